"""OGC API - Features (Part 1: Core) at /ogc, in-process and read by GDAL's OAPIF driver."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from urllib.parse import urlsplit

import pytest

from geo.records import import_registry
from support import DATA
from webapp.services import services

#: Every test here runs on SQLite and on PostgreSQL + PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

ITEMS = "/ogc/collections/stations/items"


def test_landing_page_links_and_conformance(loaded):
    doc = loaded.get("/ogc").get_json()
    rels = {link["rel"]: link for link in doc["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert urlsplit(rels["service-desc"]["href"]).path == "/ogc/api"
    assert urlsplit(rels["service-doc"]["href"]).path == "/ogc/api.html"
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


def test_items_bbox_with_heights_and_across_the_antimeridian(loaded):
    def ids(bbox: str) -> set[str]:
        r = loaded.get(ITEMS, query_string={"bbox": bbox})
        assert r.status_code == 200, r.get_json()
        return {f["id"] for f in r.get_json()["features"]}

    everything = ids("-180,-90,180,90")
    assert ids("106,23,-10,107,24,8848") == ids("106,23,107,24") == {"G-1"}
    # West > east: the boxes 109.45..180 and -180..109.35 (every station but those between).
    between = ids("109.35,-90,109.45,90")
    assert between and ids("109.45,-90,109.35,90") == everything - between
    assert ids("170,-90,-170,90") == set()


def test_items_limit_above_the_maximum_is_answered_with_the_maximum(db_url):
    from webapp import create_app
    from webapp.settings import WebSettings

    app = create_app(
        {"DATABASE_URL": db_url, "TESTING": True, "SETTINGS": WebSettings(api_max_limit=2)}
    )
    repo = services(app).repo
    import_registry(repo, DATA / "registry_zh.csv")
    r = app.test_client().get(f"{ITEMS}?limit=1000000")
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert doc["numberReturned"] == len(doc["features"]) == 2 < doc["numberMatched"]
    assert any("offset=2" in link["href"] for link in doc["links"] if link["rel"] == "next")
    params = (
        app.test_client().get("/ogc/api").get_json()["paths"]["/collections/{collectionId}/items"]
    )
    limit = next(p for p in params["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 2
    assert (limit["style"], limit["explode"]) == ("form", False)
    repo.engine.dispose()


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
        (f"{ITEMS}?limit=-1", 400),
        (f"{ITEMS}?bbox=1,2,3", 400),
        (f"{ITEMS}?bbox=1,2,3,4,5", 400),
        (f"{ITEMS}?bbox=1,2,9,3,4,1", 400),  # minimum height above the maximum
        (f"{ITEMS}?bbox=1,50,3,40", 400),  # south above north
        (f"{ITEMS}?bbox=181,0,3,4", 400),
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


@needs_ogrinfo
def test_gdal_finds_the_api_definition_and_filters_on_the_server(live_server):
    """GDAL reads the definition (service-desc) to learn which properties the server filters
    on; with the definition at /ogc/api (servers: /ogc) it sends `-where` as a query."""
    proc = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-al",
            "-q",
            "-where",
            "kind = 'legal_aid'",
            f"OAPIF:{live_server.url}/ogc",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "CPL_DEBUG": "ON"},
    )
    assert proc.returncode == 0, proc.stderr
    fetched = re.findall(r"HTTP: Fetch\((\S+)\)", proc.stderr)
    assert f"{live_server.url}/ogc/api" in fetched
    assert any("/items?" in url and "kind=legal_aid" in url for url in fetched), fetched
    legal_aid = _all_items(live_server, "&kind=legal_aid")
    assert legal_aid and proc.stdout.count("OGRFeature(stations)") == len(legal_aid)


# -- OWSLib's OGC API - Features client -----------------------------------------------------


def test_owslib_reads_the_api_definition_conformance_and_collections(live_server):
    features = pytest.importorskip("owslib.ogcapi.features")
    w = features.Features(f"{live_server.url}/ogc")
    api = w.api()  # the landing page's service-desc
    assert api["servers"] == [{"url": f"{live_server.url}/ogc", "description": "this server"}]
    assert "/collections/{collectionId}/items" in api["paths"]
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (w.conformance()["conformsTo"])
    )
    assert [c["id"] for c in w.collections()["collections"]] == ["stations"]
    assert w.collection("stations")["extent"]["spatial"]["crs"].endswith("CRS84")


def test_owslib_items_with_bbox_limit_and_paging(live_server):
    features = pytest.importorskip("owslib.ogcapi.features")
    w = features.Features(f"{live_server.url}/ogc")
    everything = _all_items(live_server)
    maximum = next(
        p["schema"]["maximum"]
        for p in w.api()["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
        if p["name"] == "limit"
    )
    # Above the maximum: answered with the maximum (OGC 17-069r4 /req/core/fc-limit-response).
    page = w.collection_items("stations", limit=maximum + 1)
    assert page["numberReturned"] == min(maximum, len(everything))

    def ids(**query) -> set[str]:
        return {f["id"] for f in w.collection_items("stations", limit=maximum, **query)["features"]}

    def inside(x0, y0, x1, y1) -> set[str]:
        return {
            f["id"]
            for f in everything
            if x0 <= f["geometry"]["coordinates"][0] <= x1
            and y0 <= f["geometry"]["coordinates"][1] <= y1
        }

    assert ids(bbox=[109.3, 24.2, 109.5, 24.4]) == inside(109.3, 24.2, 109.5, 24.4)
    assert ids(bbox=[109.3, 24.2, -10, 109.5, 24.4, 100]) == inside(109.3, 24.2, 109.5, 24.4)
    across = ids(bbox=[109.45, 20, 109.35, 40])  # across the antimeridian
    assert across == inside(109.45, 20, 180, 40) | inside(-180, 20, 109.35, 40)
    assert across and across != {f["id"] for f in everything}
    first = w.collection_items("stations", limit=2)
    second = w.collection_items("stations", limit=2, offset=2)
    assert [f["id"] for f in first["features"]] + [f["id"] for f in second["features"]] == [
        f["id"] for f in everything[:4]
    ]


def test_items_reuse_the_cached_station_encodings(loaded, app):
    """OGC items encode each station once, in the index's cache shared with /api/stations."""
    index = services(app).index.get()
    index.properties_cache.clear()
    doc = loaded.get("/ogc/collections/stations/items?limit=3").get_json()
    assert doc["numberReturned"] == 3
    assert set(index.properties_cache) == {f["id"] for f in doc["features"]}
    plain = loaded.get("/api/stations?limit=3").get_json()
    assert [f["properties"] for f in plain["features"]] == [
        f["properties"] for f in doc["features"]
    ]
