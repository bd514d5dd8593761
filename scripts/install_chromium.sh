#!/usr/bin/env bash
# Install the Debian Chromium package used by the browser tests (tests/browser/).
#
# Idempotent: does nothing when /usr/bin/chromium already exists. Uses apt only -- never a
# browser download from a test tool (no `playwright install`), so it works behind a mirror
# that carries just the Debian archive.
#
# Usage: sudo scripts/install_chromium.sh   (or as root in CI / a container)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib_apt.sh
source "$HERE/lib_apt.sh"

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if ! apt_install chromium; then
    echo "error: is the Debian 'chromium' package available in your apt sources?" \
        "(Ubuntu only ships a snap wrapper)" >&2
    exit 1
fi

# A CJK font so the Chinese page renders legibly in screenshots (small; not fatal if absent).
apt_install fonts-wqy-microhei \
    || echo "warning: could not install fonts-wqy-microhei; Chinese text may show as boxes" >&2

if [ ! -x "$CHROMIUM" ]; then
    echo "error: the chromium package installed but $CHROMIUM does not exist" >&2
    exit 1
fi
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
