#!/usr/bin/env bash
# Install the Debian packages the tests need besides Python: GDAL's command-line tools
# (`ogrinfo`, package gdal-bin) for the OGC API - Features tests (tests/test_ogc*.py) and the
# export tests (tests/test_export_interop.py); SpatiaLite as an SQLite extension
# (`mod_spatialite`, package libsqlite3-mod-spatialite) for the GeoPackage export read by
# SpatiaLite and pygeoapi; PostgreSQL 15 with PostGIS 3 (postgresql, postgresql-15-postgis-3)
# for the tests that run the store, API, OGC, planner and scenario suites on a throwaway
# PostgreSQL cluster (tests/pg.py starts it with initdb/pg_ctl; nothing runs as a service);
# then Chromium for the browser tests (scripts/install_chromium.sh).
#
# Idempotent: installs nothing that is already there. Uses apt only.
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

if dpkg-query -W -f='${Status}' libsqlite3-mod-spatialite 2>/dev/null | grep -q "ok installed"; then
    echo "libsqlite3-mod-spatialite already installed"
else
    apt_install libsqlite3-mod-spatialite
fi

# PostgreSQL + PostGIS: the server binaries (initdb, pg_ctl) and the postgis extension files.
# The packaged cluster service is not needed; the tests start their own cluster.
PG_BIN=/usr/lib/postgresql/15/bin
if [ -x "$PG_BIN/initdb" ] && [ -f /usr/share/postgresql/15/extension/postgis.control ]; then
    echo "postgresql 15 + postgis already installed"
else
    apt_install postgresql postgresql-15-postgis-3
    if [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
        echo "error: postgresql-15-postgis-3 installed but postgis.control is missing" >&2
        exit 1
    fi
    echo "postgresql 15 + postgis installed"
fi

bash "$HERE/install_chromium.sh"
