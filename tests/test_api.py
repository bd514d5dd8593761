"""The JSON/GeoJSON API: filters, paging, nearest, strict parameters, escaping, real HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from geo.crs import distance_m
from geo.records import import_registry
from support import DATA


@pytest.fixture
def loaded(app, client):
    repo = app.extensions["yizhan"]["repo"]
    import_registry(repo, DATA / "registry_zh.csv")
    import_registry(repo, DATA / "registry.geojson")
    return client


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
    import_registry(app.extensions["yizhan"]["repo"], path)
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


def test_page_opens_on_every_station(loaded):
    html = loaded.get("/").get_data(as_text=True)
    config = json.loads(html.split('id="yz-config">', 1)[1].split("</script>", 1)[0])
    x0, y0, x1, y1 = config["bounds"]
    doc = loaded.get("/api/stations").get_json()
    for f in doc["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert x0 <= lon <= x1 and y0 <= lat <= y1
