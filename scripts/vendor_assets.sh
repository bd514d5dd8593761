#!/usr/bin/env bash
# Vendor the front-end libraries: Leaflet into geo/assets/leaflet/ (package data: the offline
# HTML maps embed it, and the web app serves the same files at /static/vendor/leaflet/), and
# Leaflet.markercluster (the locator's only) into webapp/static/vendor/.
#
# The map pages must work on an intranet, so nothing is loaded from a CDN at run time.
# This script reproduces the vendored files from pinned npm versions: `npm pack` fetches the
# published tarball from the npm registry (or the mirror configured in ~/.npmrc), its
# integrity is checked against the pinned sha512, and only the files the pages need are copied.
#
# Usage: scripts/vendor_assets.sh            (from anywhere; needs npm, tar, sha512sum/base64)
set -euo pipefail

LEAFLET_VERSION=1.9.4
LEAFLET_INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
MARKERCLUSTER_VERSION=1.5.3
MARKERCLUSTER_INTEGRITY="sha512-vPTw/Bndq7eQHjLBVlWpnGeLa3t+3zGiuM7fJwCkiMFq+nmRuG3RI3f7f4N4TDX7T4NpbAXpR2+NTRSEGfCSeA=="

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/webapp/static/vendor"
LEAFLET_DIR="$ROOT/geo/assets/leaflet"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/yizhan-vendor.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

fetch() {  # fetch NAME VERSION INTEGRITY -> extracts into $WORK/NAME/package
    local name=$1 version=$2 integrity=$3 tarball actual
    mkdir -p "$WORK/$name"
    tarball="$(cd "$WORK/$name" && npm pack --silent "$name@$version" | tail -n 1)"
    actual="sha512-$(sha512sum "$WORK/$name/$tarball" | cut -d' ' -f1 | xxd -r -p | base64 -w0)"
    if [ "$actual" != "$integrity" ]; then
        echo "error: integrity mismatch for $name@$version" >&2
        echo "  expected $integrity" >&2
        echo "  got      $actual" >&2
        exit 1
    fi
    tar -xzf "$WORK/$name/$tarball" -C "$WORK/$name"
}

fetch leaflet "$LEAFLET_VERSION" "$LEAFLET_INTEGRITY"
fetch leaflet.markercluster "$MARKERCLUSTER_VERSION" "$MARKERCLUSTER_INTEGRITY"

# Leaflet: minified JS, CSS, marker/layers images, licence.
L="$WORK/leaflet/package"
rm -rf "$LEAFLET_DIR"
mkdir -p "$LEAFLET_DIR/images"
cp "$L/dist/leaflet.js" "$L/dist/leaflet.css" "$L/LICENSE" "$LEAFLET_DIR/"
cp "$L"/dist/images/*.png "$LEAFLET_DIR/images/"

# Leaflet.markercluster: minified JS, both stylesheets, licence (MIT.txt upstream).
M="$WORK/leaflet.markercluster/package"
rm -rf "$VENDOR/leaflet.markercluster"
mkdir -p "$VENDOR/leaflet.markercluster"
cp "$M/dist/leaflet.markercluster.js" "$M/dist/MarkerCluster.css" \
    "$M/dist/MarkerCluster.Default.css" "$VENDOR/leaflet.markercluster/"
cp "$M/MIT-LICENCE.txt" "$VENDOR/leaflet.markercluster/LICENSE" 2>/dev/null \
    || cp "$M"/*LICEN[CS]E* "$VENDOR/leaflet.markercluster/LICENSE"

cat > "$VENDOR/VERSIONS" <<VERSIONS
# Vendored by scripts/vendor_assets.sh -- do not edit by hand (leaflet: geo/assets/leaflet).
leaflet $LEAFLET_VERSION $LEAFLET_INTEGRITY
leaflet.markercluster $MARKERCLUSTER_VERSION $MARKERCLUSTER_INTEGRITY
VERSIONS

for dir in "$LEAFLET_DIR" "$VENDOR"; do
    echo "vendored into $dir:"
    (cd "$dir" && find . -type f | sort | xargs ls -l | awk '{printf "  %8d  %s\n", $5, $9}')
done
