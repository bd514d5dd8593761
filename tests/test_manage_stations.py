"""Stations on a map under ``/manage/stations`` (issue 15 items 2 and 6): the list of my
areas, create / edit / close / reopen / delete through the form, errors next to the field, a
conflict that keeps the input, the history page with revert, the coordinate conversion
endpoint; JSON twins; ``403`` with nothing written outside the user's areas. On SQLite and
PostgreSQL, through the real login form of a real app."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import support
from geo import crs
from geo.models import Station, Status

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RONGSHUI, SANJIANG = "450225", "450226"
USERS = {
    "root": ("admin", ()),
    "rs_ed": ("editor", (RONGSHUI,)),
    "sj_ed": ("editor", (SANJIANG,)),
    "lz_rev": ("reviewer", ("450200",)),
    "viewer": ("staff", (RONGSHUI,)),
}
IN_RONGSHUI = (109.256, 25.066)
IN_SANJIANG = (109.60, 25.78)


def _station(id_, county, lon, lat, name, status=Status.OPEN):
    return Station(
        id=id_,
        name=name,
        kind="rest_stop",
        lon=lon,
        lat=lat,
        status=status,
        province_code="450000",
        prefecture_code="450200",
        county_code=county,
        county="融水苗族自治县" if county == RONGSHUI else "三江侗族自治县",
        phone="0772-5123456",
    )


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    # Editing itself, with edits publishing directly (YIZHAN_APPROVAL=off); the path
    # through approval is tests/test_changes_web.py::test_an_editors_form_edit_waits_...
    tmp = tmp_path_factory.mktemp("manage_stations")
    with support.workspace(request, tmp, USERS, PASSWORD, approval=False) as env:
        yield env


@pytest.fixture
def stations(env):
    """A fresh set of stations for each test (history kept, ids reused with new versions)."""
    repo = env["repo"]
    with repo.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM station_versions"))
        conn.execute(sa.text("DELETE FROM stations"))
    repo.save(
        [
            _station("RS1", RONGSHUI, *IN_RONGSHUI, "融水县总工会职工驿站"),
            _station("RS2", RONGSHUI, 109.30, 25.10, "融水镇户外劳动者服务站", Status.CLOSED),
            _station("SJ1", SANJIANG, *IN_SANJIANG, "三江职工驿站"),
        ],
        actor="setup",
        source="cli",
    )
    return repo


def login(env, name: str):
    return support.login(env["app"], name, PASSWORD)


def snapshot(repo):
    with repo.engine.connect() as conn:
        return [
            conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
            for t in ("stations", "station_versions")
        ]


def test_list_shows_only_my_area_with_filters_and_pages(env, stations):
    client = login(env, "rs_ed")
    doc = client.get("/manage/stations?format=json").get_json()
    assert {s["id"] for s in doc["stations"]} == {"RS1", "RS2"} and doc["total"] == 2
    assert client.get("/manage/stations?format=json&status=closed").get_json()["total"] == 1
    found = client.get("/manage/stations?format=json&q=融水镇").get_json()["stations"]
    assert [s["id"] for s in found] == ["RS2"]
    assert client.get("/manage/stations?format=json&kind=toilet").get_json()["total"] == 0
    scores = client.get("/manage/stations?format=json&liuyou=incomplete").get_json()
    assert scores["total"] == 2 and all(s["liuyou_score"] < 6 for s in scores["stations"])
    assert client.get("/manage/stations?format=json&liuyou=complete").get_json()["total"] == 0
    html = client.get("/manage/stations").get_data(as_text=True)
    assert "融水县总工会职工驿站" in html and "三江职工驿站" not in html
    assert login(env, "lz_rev").get("/manage/stations?format=json").get_json()["total"] == 3
    assert client.get("/manage/stations?format=json&page=x").status_code == 400
    # the dashboard links here
    assert "/manage/stations" in client.get("/manage/").get_data(as_text=True)


def test_edit_page_and_json_twin_show_all_three_systems(env, stations):
    client = login(env, "rs_ed")
    doc = client.get("/manage/stations/RS1?format=json").get_json()
    assert doc["version"] == 1 and doc["station"]["name"] == "融水县总工会职工驿站"
    assert doc["positions"]["gcj02"] == pytest.approx(list(crs.wgs84_to_gcj02(*IN_RONGSHUI)))
    html = client.get("/manage/stations/RS1").get_data(as_text=True)
    assert 'id="ms-map"' in html and "js/manage/stations.js" in html
    assert "vendor/leaflet/leaflet.js" in html and "<script>" not in html
    assert "GCJ-02（从高德复制）" in html and "演示数据" in html
    english = client.get("/manage/stations/RS1?lang=en").get_data(as_text=True)
    assert "GCJ-02 (copied from Amap)" in english and "Use my position" in english
    assert client.get("/manage/stations/SJ1?format=json").status_code == 403
    assert client.get("/manage/stations/nope?format=json").status_code == 404


def test_convert_endpoint_is_geo_crs(env):
    client = login(env, "viewer")
    gx, gy = crs.wgs84_to_gcj02(*IN_RONGSHUI)
    doc = client.get(f"/manage/convert?lon={gx}&lat={gy}&crs=gcj02").get_json()
    assert doc["positions"]["wgs84"] == pytest.approx(list(IN_RONGSHUI), abs=1e-6)
    assert doc["positions"]["bd09"] == pytest.approx(list(crs.gcj02_to_bd09(gx, gy)), abs=1e-6)
    assert client.get("/manage/convert?lon=x&lat=1").status_code == 400
    assert client.get("/manage/convert?lon=1&lat=1&crs=mars").status_code == 400
    anonymous = env["app"].test_client()
    assert anonymous.get("/manage/convert?lon=1&lat=1&format=json").status_code == 401


def test_save_moves_the_station_and_history_shows_old_and_new(env, stations):
    client = login(env, "rs_ed")
    new_lon = IN_RONGSHUI[0] + 0.002
    rv = client.post(
        "/manage/stations/RS1",
        data={
            "csrf_token": client.csrf,
            "base_version": "1",
            "lon": str(new_lon),
            "lat": str(IN_RONGSHUI[1]),
            "crs": "wgs84",
            "reason": "现场核实",
        },
    )
    assert rv.status_code == 303 and rv.location.endswith("/manage/stations/RS1?saved=1")
    s = stations.get("RS1")
    assert (s.lon, s.version, s.county_code) == (new_lon, 2, RONGSHUI)
    doc = client.get("/manage/stations/RS1/history?format=json").get_json()
    top = doc["versions"][0]
    assert (top["actor"], top["source"], top["reason"]) == ("rs_ed", "web", "现场核实")
    assert top["changes"]["lon"] == [IN_RONGSHUI[0], new_lon]
    html = client.get("/manage/stations/RS1/history").get_data(as_text=True)
    assert str(new_lon) in html and str(IN_RONGSHUI[0]) in html and "现场核实" in html
    assert ">经度</th>" in html and "网页" in html
    english = client.get("/manage/stations/RS1/history?lang=en").get_data(as_text=True)
    assert ">lon</th>" in english and "Edited" in english


def test_field_errors_are_next_to_the_field_and_nothing_is_written(env, stations):
    client = login(env, "rs_ed")
    before = snapshot(stations)
    rv = client.post(
        "/manage/stations/RS1",
        data={"csrf_token": client.csrf, "base_version": "1", "kind": "飞机场", "name": "新名字"},
    )
    assert rv.status_code == 400
    html = rv.get_data(as_text=True)
    assert 'id="ms-err-kind"' in html and "unknown" in html.lower()
    assert 'value="新名字"' in html  # the input is kept
    rv = client.post(
        "/manage/stations/RS1?format=json",
        data={"csrf_token": client.csrf, "base_version": "1", "lon": "abc"},
    )
    assert rv.status_code == 400 and "lon" in rv.get_json()["errors"]
    assert snapshot(stations) == before


@pytest.mark.parametrize("version", ["100000000000000000000", "1.9", "\u00b2", "-1", ""])
def test_a_version_that_is_not_a_whole_number_is_a_400_not_a_500(env, stations, version):
    """base_version and a revert's version: a 21-digit number overflowed the database (500);
    Unicode digits and fractions are not versions either."""
    client = login(env, "rs_ed")
    before = snapshot(stations)
    rv = client.post(
        "/manage/stations/RS1?format=json",
        data={"csrf_token": client.csrf, "base_version": version, "phone": "0772-1"},
    )
    assert rv.status_code == 400, rv.get_data(as_text=True)[:300]
    rv = client.post(
        "/manage/stations/RS1/revert?format=json",
        data={"csrf_token": client.csrf, "version": version, "base_version": "1"},
    )
    assert rv.status_code == 400, rv.get_data(as_text=True)[:300]
    assert snapshot(stations) == before


def test_a_stale_form_is_a_conflict_that_keeps_the_input(env, stations):
    admin, editor = login(env, "root"), login(env, "rs_ed")
    rv = admin.post(
        "/manage/stations/RS1?format=json",
        data={"csrf_token": admin.csrf, "base_version": "1", "hours": "08:00-18:00"},
    )
    assert rv.status_code == 200 and rv.get_json()["version"] == 2
    rv = editor.post(
        "/manage/stations/RS1",
        data={"csrf_token": editor.csrf, "base_version": "1", "phone": "0772-9999999"},
    )
    assert rv.status_code == 409
    html = rv.get_data(as_text=True)
    assert 'id="ms-conflict"' in html and "root" in html and "08:00-18:00" in html
    assert 'value="0772-9999999"' in html  # what the user typed
    assert 'name="base_version" value="2"' in html  # a second save applies it knowingly
    assert stations.get("RS1").phone == "0772-5123456"
    rv = editor.post(
        "/manage/stations/RS1?format=json",
        data={"csrf_token": editor.csrf, "base_version": "1", "phone": "0772-9999999"},
    )
    assert rv.status_code == 409 and rv.get_json()["conflict"]["changes"][0]["actor"] == "root"


def test_create_close_reopen_delete_and_revert(env, stations):
    client = login(env, "rs_ed")
    gx, gy = crs.wgs84_to_gcj02(IN_RONGSHUI[0] + 0.01, IN_RONGSHUI[1] + 0.01)
    rv = client.post(
        "/manage/stations/new?format=json",
        data={
            "csrf_token": client.csrf,
            "name": "融水新建驿站",
            "kind": "rest_stop",
            "lon": f"{gx:.7f}",
            "lat": f"{gy:.7f}",
            "crs": "gcj02",
            "services": ["water", "rest"],
            "_services": "1",
        },
    )
    assert rv.status_code == 201, rv.get_json()
    new = rv.get_json()["station"]
    assert new["orig_crs"] == "gcj02" and new["county_code"] == RONGSHUI
    sid = new["id"]
    for action, status in (("close", "closed"), ("reopen", "open")):
        version = stations.get(sid).version
        rv = client.post(
            f"/manage/stations/{sid}/{action}",
            data={"csrf_token": client.csrf, "base_version": str(version)},
        )
        assert rv.status_code == 303 and stations.get(sid).status == status
    rv = client.post(
        f"/manage/stations/{sid}/delete",
        data={"csrf_token": client.csrf, "base_version": "3", "reason": "重复"},
    )
    assert rv.status_code == 303 and stations.get(sid) is None
    doc = client.get(f"/manage/stations/{sid}/history?format=json").get_json()
    assert doc["deleted"] and doc["versions"][0]["action"] == "delete"
    assert "已删除" in client.get(f"/manage/stations/{sid}/history").get_data(as_text=True)
    # a stale revert is refused, the right one restores it
    rv = client.post(
        f"/manage/stations/{sid}/revert?format=json",
        data={"csrf_token": client.csrf, "version": "3", "base_version": "3"},
    )
    assert rv.status_code == 409 and stations.get(sid) is None
    rv = client.post(
        f"/manage/stations/{sid}/revert",
        data={"csrf_token": client.csrf, "version": "3", "base_version": "4", "reason": "误删"},
    )
    assert rv.status_code == 303 and stations.get(sid).status == "open"
    assert stations.history(sid)[-1].action == "revert"


def test_out_of_area_writes_are_403_with_nothing_written(env, stations):
    client = login(env, "rs_ed")
    before = snapshot(stations)
    posts = [
        ("/manage/stations/SJ1", {"base_version": "1", "hours": "09:00-17:00"}),
        ("/manage/stations/SJ1/close", {"base_version": "1"}),
        ("/manage/stations/SJ1/delete", {"base_version": "1"}),
        ("/manage/stations/SJ1/revert", {"base_version": "1", "version": "1"}),
        # moving my own station into 三江, or creating one there
        (
            "/manage/stations/RS1",
            {"base_version": "1", "lon": str(IN_SANJIANG[0]), "lat": str(IN_SANJIANG[1])},
        ),
        (
            "/manage/stations/new",
            {"name": "越界", "kind": "rest_stop", "lon": str(IN_SANJIANG[0]), "lat": "25.78"},
        ),
    ]
    for path, data in posts:
        for fmt in ("?format=json", ""):
            rv = client.post(path + fmt, data={**data, "csrf_token": client.csrf})
            assert rv.status_code == 403, (path, rv.status_code)
    assert client.get("/manage/stations/SJ1/history?format=json").status_code == 403
    viewer = login(env, "viewer")  # read-only staff of 融水: sees, cannot write
    assert viewer.get("/manage/stations/RS1?format=json").status_code == 200
    rv = viewer.post(
        "/manage/stations/RS1/close", data={"csrf_token": viewer.csrf, "base_version": "1"}
    )
    assert rv.status_code == 403
    assert snapshot(stations) == before
