#!/usr/bin/env bash
# Install the Debian Chromium package used by the browser tests (tests/browser/).
#
# Idempotent: does nothing when /usr/bin/chromium already exists. Uses apt only -- never a
# browser download from a test tool (no `playwright install`), so it works behind a mirror
# that carries just the Debian archive.
#
# Usage: sudo scripts/install_chromium.sh   (or as root in CI / a container)
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $CHROMIUM is missing and apt-get is not available;" \
        "install the 'chromium' package with your system's package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: $CHROMIUM is missing; run this script as root (or install sudo)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update; then
    echo "error: 'apt-get update' failed; check the network / apt sources" >&2
    exit 1
fi
if ! $SUDO apt-get install -y --no-install-recommends chromium; then
    echo "error: 'apt-get install chromium' failed (is the Debian 'chromium' package" \
        "available in your apt sources? Ubuntu only ships a snap wrapper)" >&2
    exit 1
fi

# A CJK font so the Chinese page renders legibly in screenshots (small; not fatal if absent).
$SUDO apt-get install -y --no-install-recommends fonts-wqy-microhei \
    || echo "warning: could not install fonts-wqy-microhei; Chinese text may show as boxes" >&2

if [ ! -x "$CHROMIUM" ]; then
    echo "error: the chromium package installed but $CHROMIUM does not exist" >&2
    exit 1
fi
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
