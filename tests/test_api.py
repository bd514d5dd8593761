"""The JSON/GeoJSON API: filters, paging, nearest, strict parameters, escaping, real HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from geo.crs import distance_m
from geo.models import MODES
from geo.records import import_registry
from support import DATA, LiveServer
from webapp import api
from webapp.services import services

#: Every test here runs on SQLite and on PostgreSQL + PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

#: Fixtures that reach into an app's internals: a test that uses one runs on the test client
#: only; every other test of ``loaded`` also runs over HTTP against ``yizhan serve --workers 2``.
INTERNAL = {"app", "client", "many", "monkeypatch", "live_server"}


def pytest_generate_tests(metafunc):
    """``loaded`` tests that only speak HTTP run twice: Flask's test client, and a real
    ``yizhan serve --workers 2`` (gunicorn) on the test's backend (slow)."""
    names = set(metafunc.fixturenames)
    if "loaded" in names and not names & INTERNAL:
        metafunc.parametrize(
            "via", ["app", pytest.param("served", marks=pytest.mark.slow)], indirect=True
        )


@pytest.fixture
def via(request) -> str:
    """``app`` (Flask's test client) or ``served`` (HTTP to a real multi-worker server)."""
    return getattr(request, "param", "app")


def _served(tmp_path_factory, db_url: str):
    """``yizhan serve --workers 2`` on ``db_url`` with the two registries of ``tests/data``
    imported through the CLI (``yizhan import``), as an operator would."""
    server = LiveServer(
        tmp_path_factory.mktemp("served"),
        db_url=db_url,
        workers=2,
        setup=[("import", str(DATA / name)) for name in ("registry_zh.csv", "registry.geojson")],
        # Every test here is the same client: room for the geocoding tests of the module.
        env={"YIZHAN_GEOCODE_RATE_PER_MINUTE": "1000"},
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served_sqlite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served-db")
    yield from _served(tmp_path_factory, f"sqlite:///{tmp / 'yizhan.db'}")


@pytest.fixture(scope="module")
def served_postgresql(pg_cluster, tmp_path_factory):
    name = pg_cluster.create_database()
    try:
        yield from _served(tmp_path_factory, pg_cluster.url(name))
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def loaded(request, via, backend):
    """A client over the two tiny registries of ``tests/data`` (7 stations): Flask's test
    client on a fresh database, or HTTP to the module's served process (``via``)."""
    if via == "served":
        return request.getfixturevalue(f"served_{backend}").client()
    app = request.getfixturevalue("app")
    repo = services(app).repo
    import_registry(repo, DATA / "registry_zh.csv")
    import_registry(repo, DATA / "registry.geojson")
    return request.getfixturevalue("client")


def test_stations_collection(loaded):
    r = loaded.get("/api/stations")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    doc = r.get_json()
    assert doc["type"] == "FeatureCollection" and doc["numberMatched"] == 7
    f = next(f for f in doc["features"] if f["id"] == "T-001")
    assert f["geometry"] == {"type": "Point", "coordinates": [109.4213, 24.3075]}
    props = f["properties"]
    assert props["kind_label"] == "工会爱心驿站" and "爱心妈咪小屋" in props["service_labels"]
    assert props["open_now"] is True  # 24小时


@pytest.mark.parametrize(
    "query, ids",
    [
        ("kind=legal_aid", {"T-002"}),
        ("kind=职工之家", {"G-1", "G-2"}),
        ("kind=rest_stop,legal_aid&service=drinking_water", {"T-001", "T-003", "T-007", "T-011"}),
        ("service=nursing_room", {"T-001"}),
        ("county=450203", {"T-001"}),
        ("bbox=106,23,107,24", {"G-1"}),
        ("status=planned", {"T-011"}),
    ],
)
def test_stations_filters(loaded, query, ids):
    doc = loaded.get(f"/api/stations?{query}").get_json()
    assert {f["id"] for f in doc["features"]} == ids


def test_paging(loaded):
    a = loaded.get("/api/stations?limit=3").get_json()
    b = loaded.get("/api/stations?limit=3&offset=3").get_json()
    assert a["numberReturned"] == 3 and a["numberMatched"] == 7
    assert not {f["id"] for f in a["features"]} & {f["id"] for f in b["features"]}


def test_station_by_id_and_404(loaded):
    assert (
        loaded.get("/api/stations/T-002").get_json()["properties"]["name"] == "城中区法律援助服务站"
    )
    r = loaded.get("/api/stations/nope")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_nearest_orders_by_distance(loaded):
    doc = loaded.get("/api/nearest?lon=109.41&lat=24.31&k=3").get_json()
    d = [f["properties"]["distance_m"] for f in doc["features"]]
    assert d == sorted(d) and len(d) == 3
    for f in doc["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert f["properties"]["distance_m"] == pytest.approx(
            distance_m(109.41, 24.31, lon, lat), abs=0.1
        )
    assert all(f["properties"]["status"] == "open" for f in doc["features"])
    legal = loaded.get("/api/nearest?lon=109.41&lat=24.31&k=3&kind=legal_aid").get_json()
    assert [f["id"] for f in legal["features"]] == ["T-002"]


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/api/nearest?lat=24", "lon"),
        ("/api/nearest?lon=abc&lat=24", "lon"),
        ("/api/nearest?lon=200&lat=24", "lon"),
        ("/api/nearest?lon=nan&lat=24", "lon"),
        ("/api/nearest?lon=109&lat=24&k=0", "k"),
        ("/api/nearest?lon=109&lat=24&k=1000000", "k"),
        ("/api/nearest?lon=109&lat=24&kind=驿栈", "kind"),
        ("/api/nearest?lon=109&lat=24&open_now=maybe", "open_now"),
        ("/api/stations?bbox=1,2,3", "bbox"),
        ("/api/stations?bbox=10,20,5,30", "bbox"),
        ("/api/stations?limit=-1", "limit"),
        ("/api/stations?limit=99999999", "limit"),
        ("/api/stations?service=洗车", "service"),
        ("/api/stations?kinds=rest_stop", "kinds"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(loaded, url, parameter):
    r = loaded.get(url)
    assert r.status_code == 400
    assert r.get_json()["error"]["parameter"] == parameter


def test_unknown_kind_suggests_the_closest(loaded):
    r = loaded.get("/api/stations?kind=驿栈")
    assert "工会爱心驿站" in r.get_json()["error"]["message"]


def test_kinds_and_services(loaded):
    kinds = loaded.get("/api/kinds").get_json()
    assert {
        "code": "rest_stop",
        "zh": "工会爱心驿站",
        "en": "Rest stop for outdoor workers",
    } in kinds
    assert any(s["code"] == "nursing_room" for s in loaded.get("/api/services").get_json())


def test_unknown_api_route_is_json_404(loaded):
    r = loaded.get("/api/nothing")
    assert r.status_code == 404 and "error" in r.get_json()


def test_html_in_names_is_data_not_markup(app, client, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(
        '名称,类型,经度,纬度\n"<script>alert(1)</script>",驿站,109.4,24.3\n', encoding="utf-8"
    )
    import_registry(services(app).repo, path)
    raw = client.get("/api/stations").get_data(as_text=True)
    assert json.loads(raw)["features"][0]["properties"]["name"] == "<script>alert(1)</script>"
    page = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


def test_pages_refuse_framing_and_set_csp(loaded):
    r = loaded.get("/")
    assert r.status_code == 200
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def test_real_http_server(live_server):
    """The served process answers over real HTTP, with the demo registry loaded."""
    with urllib.request.urlopen(f"{live_server.url}/api/nearest?lon=109.41&lat=24.33&k=5") as r:
        doc = json.load(r)
        assert r.headers["Content-Type"].startswith("application/geo+json")
    assert len(doc["features"]) == 5
    assert all(f["properties"]["demo"] for f in doc["features"])
    assert doc["features"][0]["properties"]["prefecture"] == "柳州市"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{live_server.url}/api/nearest?lon=x&lat=1")
    assert info.value.code == 400
    assert json.load(info.value)["error"]["parameter"] == "lon"
    with urllib.request.urlopen(live_server.url + "/") as r:
        html = r.read().decode()
    assert "leaflet" in html.lower() and "cdn" not in html.lower()


def test_import_shows_up_in_a_running_server(live_server, tmp_path):
    """A CLI import beside the running server is visible without a restart."""
    path = tmp_path / "new.csv"
    path.write_text(
        "编号,名称,类型,经度,纬度\nLIVE-1,新建测试驿站,驿站,107.1234,23.4567\n", encoding="utf-8"
    )
    live_server.cli("import", str(path))
    time.sleep(1.2)  # the server checks the registry's revision at most once a second
    url = f"{live_server.url}/api/nearest?lon=107.1234&lat=23.4567&k=1"
    with urllib.request.urlopen(url) as r:
        first = json.load(r)["features"][0]
    assert first["id"] == "LIVE-1" and first["properties"]["distance_m"] < 1


def test_outlines_are_served_gzipped_and_cacheable(loaded):
    import gzip

    with loaded.get("/data/counties.geojson") as plain:
        raw = plain.data
    zipped = loaded.get("/data/counties.geojson", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped.data) < len(raw) / 3
    assert json.loads(gzip.decompress(zipped.data)) == json.loads(raw)
    again = loaded.get(
        "/data/counties.geojson",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"].strip('"')},
    )
    assert again.status_code == 304


def test_basemap_outlines_are_the_counties_simplified(loaded):
    import gzip

    import shapely
    from shapely.geometry import shape

    with loaded.get("/data/counties.geojson") as response:
        full = json.loads(response.data)
    plain = loaded.get("/data/basemap.geojson")
    light = json.loads(plain.data)
    assert len(plain.data) < len(json.dumps(full)) / 3
    zipped = loaded.get("/data/basemap.geojson", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.data)) == light
    assert len(zipped.data) < 200_000  # the embed's weight budget (bench/bench_embed.py)
    again = loaded.get(
        "/data/basemap.geojson",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"].strip('"')},
    )
    assert again.status_code == 304
    by_code = {f["properties"]["code"]: shape(f["geometry"]) for f in full["features"]}
    assert {f["properties"]["code"] for f in light["features"]} == set(by_code)
    for f in light["features"]:
        a, b = shape(f["geometry"]), by_code[f["properties"]["code"]]
        iou = shapely.intersection(a, b).area / shapely.union(a, b).area
        assert iou > 0.9, f["properties"]["name"]  # a sketch of the same county
        assert set(f["properties"]) <= {
            "code",
            "name",
            "prefecture",
            "province",
            "seat_lon",
            "seat_lat",
        }
    # simplified as a coverage: neighbours still meet, no slivers open between them
    union_full = shapely.union_all(list(by_code.values())).area
    union_light = shapely.union_all([shape(f["geometry"]) for f in light["features"]]).area
    assert abs(union_light - union_full) / union_full < 0.01


def test_page_opens_on_every_station(loaded):
    html = loaded.get("/").get_data(as_text=True)
    config = json.loads(html.split('id="yz-config">', 1)[1].split("</script>", 1)[0])
    x0, y0, x1, y1 = config["bounds"]
    doc = loaded.get("/api/stations").get_json()
    for f in doc["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert x0 <= lon <= x1 and y0 <= lat <= y1


# -- travel time on /api/nearest ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["walk", "ebike", "car"])
def test_nearest_gives_crowfly_minutes_for_the_mode(loaded, mode):
    from geo.travel.crowfly import CrowflyModel

    doc = loaded.get(f"/api/nearest?lon=109.41&lat=24.31&k=4&mode={mode}").get_json()
    model = CrowflyModel(mode)
    travel = doc["travel"]
    assert travel["mode"] == mode and travel["model"] == "crowfly"
    assert travel["speed_kmh"] == model.speed_kph and travel["circuity"] == model.circuity
    assert "直线估算" in travel["label_zh"] and "straight-line" in travel["label_en"]
    minutes = [f["properties"]["minutes"] for f in doc["features"]]
    assert minutes == sorted(minutes) and len(minutes) == 4
    for f in doc["features"]:
        expected = float(model.minutes_for(f["properties"]["distance_m"]))
        assert f["properties"]["minutes"] == pytest.approx(expected, abs=0.051)


def test_nearest_default_mode_is_walk_and_bad_mode_is_400(loaded):
    assert loaded.get("/api/nearest?lon=109.41&lat=24.31").get_json()["travel"]["mode"] == "walk"
    r = loaded.get("/api/nearest?lon=109.41&lat=24.31&mode=boat")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "mode"


@pytest.mark.parametrize(
    ("mode", "code"), [("ebike", "ebike"), ("电动车", "ebike"), ("bike", "ebike"), ("驾车", "car")]
)
def test_nearest_mode_accepts_codes_and_aliases(loaded, mode, code):
    # geo.models.MODE_TERMS is the one vocabulary: "bike" is an e-bike alias there.
    doc = loaded.get("/api/nearest", query_string={"lon": 109.41, "lat": 24.31, "mode": mode})
    assert doc.status_code == 200, doc.get_json()
    travel = doc.get_json()["travel"]
    assert travel["mode"] == code
    assert travel["label_zh"] == api.MODE_LABELS[code][0]


def test_mode_labels_come_from_the_vocabulary():
    assert api.MODE_LABELS["walk"] == ("步行，直线估算", "walking, straight-line estimate")
    assert api.MODE_LABELS["ebike"] == ("电动自行车，直线估算", "e-bike, straight-line estimate")
    assert api.MODE_LABELS["car"] == ("驾车，直线估算", "driving, straight-line estimate")
    assert set(api.MODE_LABELS) == set(MODES)


# -- one Param for kinds: code, Chinese name and alias on every API path ---------------------

LEGAL_AID_NAMES = ["legal_aid", "法律援助服务站", "工会法律援助服务站", "律师站"]


@pytest.mark.parametrize("kind", LEGAL_AID_NAMES)
def test_stations_kind_alias(loaded, kind):
    doc = loaded.get("/api/stations", query_string={"kind": kind}).get_json()
    assert {f["id"] for f in doc["features"]} == {"T-002"}


@pytest.mark.parametrize("kind", LEGAL_AID_NAMES)
def test_nearest_kind_alias(loaded, kind):
    q = {"lon": 109.41, "lat": 24.31, "k": 3, "kind": kind}
    doc = loaded.get("/api/nearest", query_string=q).get_json()
    assert [f["properties"]["kind"] for f in doc["features"]] == ["legal_aid"]


@pytest.mark.parametrize("kind", LEGAL_AID_NAMES)
def test_clusters_kind_alias(loaded, kind):
    q = {"bbox": "70,15,140,55", "zoom": 4, "kind": kind}
    doc = loaded.get("/api/clusters", query_string=q).get_json()
    assert doc["total"] == 1 and doc["clustered"] is False
    assert [f["id"] for f in doc["features"]] == ["T-002"]


@pytest.mark.parametrize("service", ["drinking_water", "饮水"])
def test_stations_service_alias(loaded, service):
    by_code = loaded.get("/api/stations?service=drinking_water").get_json()
    doc = loaded.get("/api/stations", query_string={"service": service}).get_json()
    assert doc["numberMatched"] == by_code["numberMatched"] > 0


# -- clusters ----------------------------------------------------------------------------


@pytest.fixture
def many(app, client):
    """3,000 seeded synthetic stations around Nanning (illustrative)."""
    import random

    from geo.models import Station

    rng = random.Random(42)
    kinds = ["rest_stop", "legal_aid", "workers_home"]
    stations = [
        Station(
            id=f"SYN-{i:05d}",
            name=f"合成站点{i}",
            kind=kinds[i % 3],
            lon=round(rng.gauss(108.35, 0.3), 6),
            lat=round(rng.gauss(22.82, 0.2), 6),
        )
        for i in range(3000)
    ]
    services(app).repo.save(stations)
    return client, stations


def _brute(stations, bbox, kind=None):
    x0, y0, x1, y1 = bbox
    return sorted(
        s.id
        for s in stations
        if x0 <= s.lon <= x1 and y0 <= s.lat <= y1 and (kind is None or s.kind == kind)
    )


@pytest.mark.parametrize("zoom", [5, 9, 12])
def test_clusters_count_every_station_in_the_bbox_once(many, zoom):
    client, stations = many
    bbox = (107.5, 22.0, 109.0, 23.5)
    doc = client.get(f"/api/clusters?bbox={','.join(map(str, bbox))}&zoom={zoom}").get_json()
    expected = _brute(stations, bbox)
    assert doc["total"] == len(expected) > 500 and doc["clustered"] is True
    assert sum(f["properties"]["count"] for f in doc["features"]) == len(expected)
    for f in doc["features"]:
        p = f["properties"]
        assert p["cluster"] is True and p["count"] >= 1
        lon, lat = f["geometry"]["coordinates"]
        w, s, e, n = p["bbox"]
        assert w - 1e-6 <= lon <= e + 1e-6 and s - 1e-6 <= lat <= n + 1e-6
        assert len(_brute(stations, (w, s, e, n))) >= p["count"]
    # finer zoom, more (smaller) clusters
    if zoom > 5:
        coarse = client.get(f"/api/clusters?bbox={','.join(map(str, bbox))}&zoom=5").get_json()
        assert len(doc["features"]) > len(coarse["features"])


def test_clusters_return_stations_when_few_or_zoomed_in(many):
    client, stations = many
    small = (108.3, 22.8, 108.32, 22.82)
    doc = client.get(f"/api/clusters?bbox={','.join(map(str, small))}&zoom=6").get_json()
    assert doc["clustered"] is False
    assert sorted(f["id"] for f in doc["features"]) == _brute(stations, small)
    assert all("kind_label" in f["properties"] for f in doc["features"])
    wide = (107.5, 22.0, 109.0, 23.5)
    zoomed = client.get(f"/api/clusters?bbox={','.join(map(str, wide))}&zoom=15").get_json()
    assert zoomed["clustered"] is False and zoomed["total"] == len(_brute(stations, wide))
    legal = client.get(
        f"/api/clusters?bbox={','.join(map(str, wide))}&zoom=9&kind=legal_aid"
    ).get_json()
    assert legal["total"] == len(_brute(stations, wide, "legal_aid"))


@pytest.mark.parametrize(
    "query, parameter",
    [("zoom=5", "bbox"), ("bbox=1,2,3,4", "zoom"), ("bbox=1,2,3,4&zoom=99", "zoom")],
)
def test_clusters_require_bbox_and_zoom(loaded, query, parameter):
    r = loaded.get(f"/api/clusters?{query}")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == parameter


# -- limits ------------------------------------------------------------------------------


def test_k_above_the_maximum_is_refused_naming_the_maximum(loaded):
    r = loaded.get("/api/nearest?lon=109&lat=24&k=1000000")
    assert r.status_code == 400 and "100" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_non_finite_numbers_are_400(loaded, value):
    r = loaded.get(f"/api/nearest?lon={value}&lat=24")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "lon"
    r = loaded.get(f"/api/stations?bbox={value},0,1,1")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "bbox"


def test_world_bbox_is_paged_and_huge_offsets_are_empty(loaded):
    doc = loaded.get("/api/stations?bbox=-180,-90,180,90&limit=2").get_json()
    assert doc["numberMatched"] == 7 and doc["numberReturned"] == 2
    far = loaded.get("/api/stations?offset=999999999").get_json()
    assert far["features"] == [] and far["numberMatched"] == 7
    assert loaded.get("/api/stations?offset=1000000001").status_code == 400


def test_ten_kilobyte_search_is_refused_before_geocoding(app, loaded):
    calls = []
    geocoder = services(app).geocoder
    services(app).geocoder = type(
        "Spy", (), {"geocode": lambda self, q, city=None: calls.append(q)}
    )()
    try:
        r = loaded.get("/api/geocode", query_string={"q": "柳" * 10_000})
    finally:
        services(app).geocoder = geocoder
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "q"
    assert calls == []


def test_bbox_query_uses_the_index_and_matches_sql(loaded, app):
    """The bbox path (index, vectorised) gives what the SQL query gives."""
    from geo.store import StationQuery

    repo = services(app).repo
    for bbox in [(106, 23, 107, 24), (109.3, 24.2, 109.5, 24.4), (-180, -90, 180, 90)]:
        doc = loaded.get(f"/api/stations?bbox={','.join(map(str, bbox))}").get_json()
        rows, total = repo.query(StationQuery(bbox=bbox))
        assert [f["id"] for f in doc["features"]] == [s.id for s in rows]
        assert doc["numberMatched"] == total


# -- CORS and caching --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/stations", "/api/kinds", "/api/openapi.json", "/ogc", "/api/nearest?lon=1"]
)
def test_cors_on_the_public_read_only_api(loaded, url):
    r = loaded.get(url, headers={"Origin": "https://example.org"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in r.headers["Access-Control-Expose-Headers"]


def test_cors_preflight_is_answered(loaded):
    r = loaded.options(
        "/api/stations",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in r.headers["Access-Control-Allow-Headers"]


def test_no_cors_on_pages(loaded):
    r = loaded.get("/", headers={"Origin": "https://example.org"})
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize(
    "url",
    [
        "/api/kinds",
        "/api/services",
        "/api/openapi.json",
        "/api/stations?kind=rest_stop",
        "/api/clusters?bbox=100,20,115,30&zoom=6",
        "/ogc",
        "/ogc/collections/stations",
        "/ogc/collections/stations/items?limit=2",
    ],
)
def test_etag_and_304(loaded, url):
    r = loaded.get(url)
    etag = r.headers["ETag"]
    assert r.status_code == 200 and etag.startswith('W/"')
    assert "max-age" in r.headers["Cache-Control"]
    again = loaded.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert loaded.get(url, headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_etag_depends_on_the_query(loaded):
    a = loaded.get("/api/stations?limit=1").headers["ETag"]
    b = loaded.get("/api/stations?limit=2").headers["ETag"]
    assert a != b


def test_etag_changes_after_a_cli_import(live_server, tmp_path):
    url = f"{live_server.url}/api/stations?limit=1"
    with urllib.request.urlopen(url) as r:
        before = r.headers["ETag"]
    req = urllib.request.Request(url, headers={"If-None-Match": before})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req)
    assert info.value.code == 304
    info.value.close()
    path = tmp_path / "etag.csv"
    path.write_text(
        "编号,名称,类型,经度,纬度\nETAG-1,缓存测试驿站,驿站,107.2,23.5\n", encoding="utf-8"
    )
    live_server.cli("import", str(path))
    time.sleep(1.2)  # the server checks the registry's revision at most once a second
    with urllib.request.urlopen(req) as r:  # the old validator no longer matches
        assert r.status == 200 and r.headers["ETag"] != before


def test_services_are_typed(app):
    from webapp.services import Services
    from webapp.settings import WebSettings

    svc = services(app)
    assert isinstance(svc, Services) and isinstance(svc.settings, WebSettings)
    with pytest.raises(TypeError):
        svc["repo"]  # no string-keyed access: every caller uses the typed fields


# -- messages by code, honest results (issue 12 items 4 and 5) ------------------------------


@pytest.mark.parametrize(
    "q, reason",
    [
        ("xyz路1号", "no_place_name"),
        ("福建省", "province_only"),
        ("hello world", "not_chinese"),
    ],
)
def test_geocode_not_found_carries_a_reason_code(loaded, q, reason):
    """A page maps ``error.reason`` to its own language; API clients keep the message."""
    from geo.geocode.base import NOT_FOUND_REASONS

    r = loaded.get("/api/geocode", query_string={"q": q})
    err = r.get_json()["error"]
    assert r.status_code == 404 and err["code"] == "geocode_not_found"
    assert err["reason"] == reason and reason in NOT_FOUND_REASONS
    assert err["message"]  # the English reason, as before


def test_chain_keeps_the_first_reason_and_says_when_every_service_failed():
    from geo.errors import GeocodeNotFound, ProviderError
    from geo.geocode.chain import GeocoderChain
    from geo.geocode.offline import OfflineGeocoder

    class Down:
        name = "down"

        def geocode(self, address, city=None):
            raise ProviderError("down: timeout", provider="down", retryable=True)

    with pytest.raises(GeocodeNotFound) as info:
        GeocoderChain([OfflineGeocoder(), Down()]).geocode("xyz路1号")
    assert info.value.details["reason"] == "no_place_name"
    with pytest.raises(GeocodeNotFound) as info:
        GeocoderChain([Down()]).geocode("柳州市")
    assert info.value.details["reason"] == "providers_failed"


def test_geocode_says_what_was_recognised_and_whether_it_is_partial(loaded):
    part = loaded.get("/api/geocode", query_string={"q": "柳州火车站"}).get_json()
    assert part["precision"] == "prefecture" and part["rest"] == "火车站"
    assert part["recognised"] == "柳州市" and part["partial"] is True
    whole = loaded.get("/api/geocode", query_string={"q": "柳州市鱼峰区"}).get_json()
    assert whole["recognised"] == "鱼峰区" and whole["partial"] is False


def test_nearest_says_whether_a_station_serves_the_place(loaded):
    """Served: the nearest station within the one-hour circle (the coverage default)."""
    from geo.coverage import default_minutes_cap

    here = loaded.get("/api/nearest?lon=109.41&lat=24.31&k=2&mode=ebike").get_json()
    assert here["served"] is True
    assert here["travel"]["service_minutes"] == 60
    assert here["travel"]["minutes_cap"] == default_minutes_cap([60]) == 240
    beijing = loaded.get("/api/nearest?lon=116.44&lat=39.92&k=2&mode=ebike").get_json()
    assert beijing["served"] is False
    assert beijing["features"][0]["properties"]["minutes"] > 240  # shown as distance only
    # beyond the circle but within the cap is not served either (walk: 4.5 km/h, 1.3)
    lon = 109.41 + 0.06  # ~6 km east of the nearest station: ~104 min on foot
    edge = loaded.get(f"/api/nearest?lon={lon}&lat=24.31&k=1&mode=walk").get_json()
    minutes = edge["features"][0]["properties"]["minutes"]
    assert edge["served"] is (minutes <= 60)


@pytest.mark.parametrize(
    "env, mode",
    [
        ({}, "ebike"),
        ({"YIZHAN_DEFAULT_MODE": "walk"}, "walk"),
        ({"YIZHAN_DEFAULT_MODE": "电动车"}, "ebike"),
    ],
)
def test_the_locator_starts_in_the_servers_default_mode(tmp_path, env, mode):
    from support import make_app

    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite'}", env)
    with app.test_client() as client:
        cfg = client.get("/?format=json").get_json()
        assert cfg["mode"] == mode and cfg["defaultMode"] == mode
        assert client.get("/?format=json&mode=car").get_json()["mode"] == "car"
        assert client.get("/?format=json&mode=boat").get_json()["mode"] == mode


def test_a_misspelt_default_mode_is_refused_at_start():
    from geo.errors import ValidationError
    from webapp.settings import WebSettings

    with pytest.raises(ValidationError, match="boat"):
        WebSettings.from_env({"YIZHAN_DEFAULT_MODE": "boat"})


# -- cluster tiles (/api/clusters/{z}/{x}/{y}) ------------------------------------------


def _tiles_at(client, z, query=""):
    """Every non-empty tile of zoom z over the 'many' stations (around Nanning)."""
    from geo.clusters import lat_to_y, lon_to_x

    n = 2**z
    x0, x1 = int(lon_to_x(104.0) * n), int(lon_to_x(113.0) * n)
    y0, y1 = int(lat_to_y(26.0) * n), int(lat_to_y(19.0) * n)
    docs = []
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            r = client.get(f"/api/clusters/{z}/{x}/{y}{query}")
            assert r.status_code == 200, r.get_data(as_text=True)
            docs.append(r.get_json())
    return docs


@pytest.mark.parametrize("zoom", [3, 7, 10])
def test_cluster_tiles_count_every_station_once(many, zoom):
    client, stations = many
    docs = _tiles_at(client, zoom)
    assert sum(d["total"] for d in docs) == len(stations)
    counted = sum(
        f["properties"]["point_count"] if f["properties"].get("cluster") else 1
        for d in docs
        for f in d["features"]
    )
    assert counted == len(stations)
    singles = [f["id"] for d in docs for f in d["features"] if not f["properties"].get("cluster")]
    assert len(singles) == len(set(singles))


def test_cluster_tiles_filter_by_kind(many):
    client, stations = many
    docs = _tiles_at(client, 8, "?kind=legal_aid")
    assert sum(d["total"] for d in docs) == sum(s.kind == "legal_aid" for s in stations)
    for d in docs:
        for f in d["features"]:
            if not f["properties"].get("cluster"):
                assert f["properties"]["kind"] == "legal_aid"


def test_cluster_tile_etag_304_and_new_revision(many, app):
    from geo.models import Station

    client, _ = many
    url = "/api/clusters/6/50/27"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert not etag.startswith("W/")  # strong
    assert first.cache_control.public and first.cache_control.max_age == 60
    rev = first.get_json()["revision"]
    long = client.get(f"{url}?rev={rev}")
    assert long.cache_control.max_age == 86_400
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    other = client.get("/api/clusters/6/50/27?kind=legal_aid", headers={"If-None-Match": etag})
    assert other.status_code == 200
    new = Station(id="NEW-1", name="新站", kind="rest_stop", lon=108.3, lat=22.8)
    services(app).repo.save([new])
    services(app).index.check_interval_s = 0
    after = client.get(url, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert after.get_json()["revision"] != rev


@pytest.mark.parametrize(
    "path,parameter",
    [("/api/clusters/3/8/0", "x"), ("/api/clusters/3/0/9", "y"), ("/api/clusters/25/0/0", "z")],
)
def test_cluster_tile_out_of_range_is_400(loaded, path, parameter):
    r = loaded.get(path)
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == parameter


def test_cluster_tile_in_openapi(loaded):
    doc = loaded.get("/api/openapi.json").get_json()
    op = doc["paths"]["/api/clusters/{z}/{x}/{y}"]["get"]
    assert "304" in op["responses"] and "ETag" in op["responses"]["200"]["headers"]


def test_nearest_features_are_the_station_features_with_distance_and_minutes(loaded):
    """/api/nearest reuses the cached station encodings: same properties as /api/stations."""
    doc = loaded.get("/api/nearest?lon=108.3&lat=22.8&k=3&mode=ebike").get_json()
    for f in doc["features"]:
        one = loaded.get(f"/api/stations/{f['id']}").get_json()
        props = dict(f["properties"])
        assert props.pop("minutes") >= 0 and props.pop("distance_m") >= 0
        assert props == one["properties"] and f["geometry"] == one["geometry"]
    assert doc["travel"]["mode"] == "ebike" and doc["numberReturned"] == len(doc["features"])


# -- per-request overhead (issue 14 item 5) ------------------------------------------------


def test_api_requests_without_a_cookie_build_no_session_serializer(loaded, monkeypatch):
    """No cookie, no session work: the signing serializer is built at most once, not per request."""
    import flask.sessions

    built = []
    real = flask.sessions.URLSafeTimedSerializer

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(flask.sessions, "URLSafeTimedSerializer", counting)
    for lon in (108.1, 108.2, 108.3, 108.4, 108.5):
        r = loaded.get(f"/api/nearest?lon={lon}&lat=22.8&k=2")
        assert r.status_code == 200
        assert "Set-Cookie" not in r.headers and "Cookie" not in r.vary
    assert len(built) <= 1


def test_planner_session_still_round_trips_through_the_lazy_interface(client):
    """A page that writes the session sets the cookie; the next request reads it back."""
    first = client.get("/planner/login?format=json").get_json()["csrf_token"]
    assert client.get_cookie("session") is not None
    again = client.get("/planner/login?format=json").get_json()["csrf_token"]
    assert again == first


@pytest.mark.parametrize(
    "accept,gzipped",
    [(None, False), ("identity", False), ("gzip", True), ("*", True), ("br, GZIP;q=0.5", True)],
)
def test_json_answers_vary_and_gzip_by_accept_encoding(loaded, accept, gzipped):
    headers = {"Accept-Encoding": accept} if accept else {}
    r = loaded.get("/api/stations?limit=50", headers=headers)
    assert r.status_code == 200 and "Accept-Encoding" in r.vary
    assert (r.headers.get("Content-Encoding") == "gzip") is gzipped
    assert r.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert r.headers.getlist("X-Frame-Options") == ["DENY"]


def test_small_json_answers_are_not_gzipped(loaded):
    r = loaded.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and len(r.data) < 600
    assert "Content-Encoding" not in r.headers and "Accept-Encoding" in r.vary


# -- the database answers while the index is cold or too large (issue 14 item 1) -------------


def _seeded(n: int = 400):
    """Seeded stations in Guangxi with every filterable attribute, some without coordinates,
    some either side of the antimeridian (Fiji)."""
    import random

    from geo.models import Station, Status

    rng = random.Random(42)
    kinds = ["rest_stop", "legal_aid", "workers_home"]
    services_ = ["drinking_water", "nursing_room", "charging", "toilet"]
    out = []
    for i in range(n):
        placed = rng.random() > 0.05
        far = i % 50 == 0
        out.append(
            Station(
                id=f"SEED-{i:04d}",
                name=f"种子站点{i}",
                kind=rng.choice(kinds),
                lon=(rng.choice([179.6, -179.6]) if far else rng.uniform(104.5, 112.0))
                if placed
                else None,
                lat=(rng.uniform(-17.5, -16.5) if far else rng.uniform(21.0, 26.4))
                if placed
                else None,
                services=tuple(sorted(rng.sample(services_, rng.randint(0, 3)))),
                status=rng.choice([Status.OPEN] * 6 + [Status.CLOSED, Status.PLANNED]),
                hours=rng.choice(["24小时", "周一至周五 09:00-17:00", None, "每天 20:00-23:00"]),
                county_code=rng.choice(["450102", "450203", "450225"]),
                county=rng.choice(["兴宁区", "城中区", "融水苗族自治县"]),
            )
        )
    return out


DB_QUERIES = [
    "/api/nearest?lon=108.3&lat=22.8",
    "/api/nearest?lon=109.4&lat=24.3&k=17&kind=rest_stop,legal_aid",
    "/api/nearest?lon=110.1&lat=25.0&k=9&service=drinking_water&mode=car",
    "/api/nearest?lon=106.0&lat=23.0&k=12&max_distance_m=150000&mode=ebike",
    "/api/nearest?lon=107.0&lat=24.0&k=6&open_now=true",
    "/api/nearest?lon=179.9&lat=-17.0&k=3",
    "/api/nearest?lon=0&lat=0&k=2&max_distance_m=1000",
    "/api/stations?bbox=106,22,109,25",
    "/api/stations?bbox=106,22,109,25&kind=legal_aid&status=open,planned",
    "/api/stations?bbox=104,21,112,27&service=charging,toilet&limit=7&offset=5",
    "/api/stations?bbox=104,21,112,27&county=450203&open_now=true",
    "/api/stations?bbox=104,21,112,27&county=城中区&limit=3",
    "/api/stations?bbox=179,-18,180,-16",
    "/api/stations?bbox=0,0,1,1",
]


def test_database_path_answers_like_the_index(app, client):
    """The same questions answered by the in-memory index and by the database (PostGIS on
    PostgreSQL; SQLite's lon/lat index and the repository's scan) give the same JSON."""
    svc = services(app)
    svc.repo.save(_seeded())
    assert svc.index.get() is not None  # the index is built and current
    assert svc.index.ready() is not None
    by_index = {q: client.get(q) for q in DB_QUERIES}
    svc.index.max_stations = 10  # the registry is now "too large": the database answers
    assert svc.index.ready() is None
    for q in DB_QUERIES:
        got = client.get(q)
        want = by_index[q]
        assert got.status_code == want.status_code == 200, (q, got.get_data(as_text=True))
        assert got.mimetype == want.mimetype == "application/geo+json"
        assert got.get_json() == want.get_json(), q
    doc = by_index["/api/nearest?lon=108.3&lat=22.8"].get_json()
    assert doc["features"] and {"served", "travel"} <= doc.keys()
    assert by_index["/api/stations?bbox=179,-18,180,-16"].get_json()["numberMatched"] > 0


def test_a_cold_index_does_not_block_nearest_or_bbox(app, client, monkeypatch):
    """While the first index build runs (held back here), /api/nearest and /api/stations?bbox=
    are answered at once from the database, with the answers the index gives afterwards."""
    import threading

    from geo import index as index_module

    svc = services(app)
    svc.repo.save(_seeded(200))
    started, release = threading.Event(), threading.Event()
    real = index_module.StationIndex

    class HeldIndex(real):
        def __init__(self, stations):
            started.set()
            assert release.wait(30)
            super().__init__(stations)

    monkeypatch.setattr(index_module, "StationIndex", HeldIndex)
    queries = DB_QUERIES[:2] + DB_QUERIES[7:9]
    answers: dict[str, object] = {}

    def ask():
        for q in queries:
            answers[q] = client.get(q)

    asker = threading.Thread(target=ask)
    try:
        asker.start()
        asker.join(20)
        assert not asker.is_alive(), "a request waited for the index build"
        assert started.wait(20)  # a build started, and cannot end before `release`
    finally:
        release.set()
        asker.join(30)
    deadline = time.monotonic() + 20
    while svc.index.ready() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for q in queries:
        assert answers[q].status_code == 200
        assert answers[q].get_json() == client.get(q).get_json(), q
