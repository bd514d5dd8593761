"""OGC API - Features (Part 1: Core) at /ogc, in-process and read by GDAL's OAPIF driver."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from urllib.parse import urlsplit

import pytest

ITEMS = "/ogc/collections/stations/items"


def test_landing_page_links_and_conformance(loaded):
    doc = loaded.get("/ogc").get_json()
    rels = {link["rel"]: link for link in doc["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert urlsplit(rels["service-desc"]["href"]).path == "/api/openapi.json"
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    conf = loaded.get(urlsplit(rels["conformance"]["href"]).path).get_json()["conformsTo"]
    for cls in ("core", "geojson", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{cls}" in conf


def test_collection_extent_from_the_data(loaded):
    cols = loaded.get("/ogc/collections").get_json()["collections"]
    assert [c["id"] for c in cols] == ["stations"]
    col = loaded.get("/ogc/collections/stations").get_json()
    stations = loaded.get("/api/stations").get_json()["features"]
    lons = [f["geometry"]["coordinates"][0] for f in stations]
    lats = [f["geometry"]["coordinates"][1] for f in stations]
    assert col["extent"]["spatial"]["bbox"] == [[min(lons), min(lats), max(lons), max(lats)]]
    assert col["extent"]["spatial"]["crs"].endswith("/OGC/1.3/CRS84")
    assert any(link["rel"] == "items" for link in col["links"])


def test_items_paging_with_next_and_prev_links(loaded):
    first = loaded.get(f"{ITEMS}?limit=3")
    assert first.mimetype == "application/geo+json"
    doc = first.get_json()
    assert doc["numberMatched"] == 7 and doc["numberReturned"] == 3 and "timeStamp" in doc
    seen = [f["id"] for f in doc["features"]]
    while True:
        nxt = [link for link in doc["links"] if link["rel"] == "next"]
        if not nxt:
            break
        parts = urlsplit(nxt[0]["href"])
        doc = loaded.get(f"{parts.path}?{parts.query}").get_json()
        assert any(link["rel"] == "prev" for link in doc["links"])
        seen += [f["id"] for f in doc["features"]]
    assert sorted(seen) == seen and len(set(seen)) == 7
    assert loaded.get(f"{ITEMS}?offset=1000000").get_json()["features"] == []


def test_items_bbox_and_property_filters(loaded):
    def ids(query):
        r = loaded.get(f"{ITEMS}?{query}")
        assert r.status_code == 200, r.get_json()
        return {f["id"] for f in r.get_json()["features"]}

    assert ids("bbox=106,23,107,24") == {"G-1"}
    assert ids("kind=legal_aid") == {"T-002"}
    assert ids("county_code=450203") == {"T-001"}
    assert ids("status=planned") == {"T-011"}
    assert ids("service=nursing_room") == {"T-001"}
    assert ids("bbox=-180,-90,180,90&limit=2") <= ids("")
    assert ids("datetime=2999-01-01T00:00:00Z/..") == set()
    assert len(ids("datetime=../2999-01-01T00:00:00Z")) == 7


@pytest.mark.parametrize("kind", ["legal_aid", "法律援助服务站", "律师站"])
def test_items_kind_filter_accepts_aliases(loaded, kind):
    r = loaded.get(ITEMS, query_string={"kind": kind})
    assert r.status_code == 200, r.get_json()
    assert {f["id"] for f in r.get_json()["features"]} == {"T-002"}


@pytest.mark.parametrize(
    "url, status",
    [
        ("/ogc/collections/nope", 404),
        ("/ogc/collections/nope/items", 404),
        (f"{ITEMS}/nope", 404),
        (f"{ITEMS}?limit=0", 400),
        (f"{ITEMS}?limit=99999999", 400),
        (f"{ITEMS}?bbox=1,2,3", 400),
        (f"{ITEMS}?f=html", 400),
        (f"{ITEMS}?datetime=yesterday", 400),
        (f"{ITEMS}?colour=red", 400),  # not in the API definition: refused
    ],
)
def test_errors_are_json(loaded, url, status):
    r = loaded.get(url)
    assert r.status_code == status and r.mimetype == "application/json"
    assert r.get_json()["error"]["code"]


def test_one_item_and_content_negotiation(loaded):
    r = loaded.get(f"{ITEMS}/T-002")
    assert r.mimetype == "application/geo+json"
    assert r.get_json()["properties"]["kind"] == "legal_aid"
    assert {link["rel"] for link in r.get_json()["links"]} == {"self", "collection"}
    plain = loaded.get(f"{ITEMS}/T-002", headers={"Accept": "application/json"})
    assert plain.mimetype == "application/json"
    assert "Accept" in plain.headers.get("Vary", "")
    assert loaded.get(f"{ITEMS}?f=json").status_code == 200


# -- GDAL's OGC API - Features client against the real served process -------------------

needs_ogrinfo = pytest.mark.skipif(
    shutil.which("ogrinfo") is None, reason="gdal-bin missing: run scripts/install_test_deps.sh"
)


def _ogrinfo(*args: str) -> str:
    proc = subprocess.run(
        ["ogrinfo", "--config", "GDAL_HTTP_UNSAFESSL", "NO", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "CPL_DEBUG": "OFF"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _all_items(live_server, query: str = "") -> list[dict]:
    url = f"{live_server.url}{ITEMS}?limit=5000{query}"
    with urllib.request.urlopen(url) as r:
        return json.load(r)["features"]


@needs_ogrinfo
def test_gdal_lists_the_stations_layer(live_server):
    out = _ogrinfo(f"OAPIF:{live_server.url}/ogc")
    assert "1: stations" in out and "(Point)" in out


@needs_ogrinfo
def test_gdal_summary_has_the_feature_count_and_fields(live_server):
    out = _ogrinfo("-al", "-so", f"OAPIF:{live_server.url}/ogc")
    count = len(_all_items(live_server))
    assert f"Feature Count: {count}" in out
    for field in ("id: String", "name: String", "kind: String", "county_code: String"):
        assert field in out
    assert "demo: Integer(Boolean)" in out


@needs_ogrinfo
def test_gdal_spatial_filter_reads_only_the_bbox(live_server):
    x0, y0, x1, y1 = 109.3, 24.2, 109.5, 24.4
    out = _ogrinfo(
        "-al", "-q", "-spat", str(x0), str(y0), str(x1), str(y1), f"OAPIF:{live_server.url}/ogc"
    )
    inside = _all_items(live_server, f"&bbox={x0},{y0},{x1},{y1}")
    assert 0 < len(inside) < len(_all_items(live_server))
    assert out.count("OGRFeature(stations)") == len(inside)
    for f in inside:
        assert f"id (String) = {f['id']}" in out
