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

if command -v ogrinfo >/dev/null 2>&1; then
    echo "gdal-bin already installed: $(ogrinfo --version 2>/dev/null || echo ogrinfo)"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: ogrinfo is missing and apt-get is not available;" \
            "install GDAL's command-line tools (gdal-bin) with your package manager" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        else
            echo "error: ogrinfo is missing; run this script as root (or install sudo)" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get update; then
        echo "error: 'apt-get update' failed; check the network / apt sources" >&2
        exit 1
    fi
    if ! $SUDO apt-get install -y --no-install-recommends gdal-bin; then
        echo "error: 'apt-get install gdal-bin' failed" >&2
        exit 1
    fi
    if ! command -v ogrinfo >/dev/null 2>&1; then
        echo "error: gdal-bin installed but ogrinfo is not on the PATH" >&2
        exit 1
    fi
    echo "gdal-bin installed: $(ogrinfo --version)"
fi

bash "$HERE/install_chromium.sh"
