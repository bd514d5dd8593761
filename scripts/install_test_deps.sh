#!/usr/bin/env bash
# Install the Debian packages the tests need besides Python: GDAL's command-line tools
# (`ogrinfo`, package gdal-bin) for the OGC API - Features test (tests/test_ogc.py), then
# Chromium for the browser tests (scripts/install_chromium.sh).
#
# Idempotent: installs nothing when `ogrinfo` is already on the PATH. Uses apt only.
#
# Usage: sudo scripts/install_test_deps.sh   (or as root in CI / a container)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib_apt.sh
source "$HERE/lib_apt.sh"

if command -v ogrinfo >/dev/null 2>&1; then
    echo "gdal-bin already installed: $(ogrinfo --version 2>/dev/null || echo ogrinfo)"
else
    apt_install gdal-bin
    if ! command -v ogrinfo >/dev/null 2>&1; then
        echo "error: gdal-bin installed but ogrinfo is not on the PATH" >&2
        exit 1
    fi
    echo "gdal-bin installed: $(ogrinfo --version)"
fi

bash "$HERE/install_chromium.sh"
