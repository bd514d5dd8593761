"""The review queue (``/manage/review``, :mod:`geo.review_queue`) and the 六有 page
(``/manage/liuyou``) on SQLite and PostgreSQL: items of each kind for seeded stations, the
decisions (accept, fix, merge, dismiss) persisted and audited, out-of-area writes refused.

Stations are placed with the bundled gazetteer's outlines, found with a seeded generator; the
GCJ-02 station is a point of 融水 (450225) whose GCJ-02 coordinate falls outside the county,
stored as if that coordinate were WGS-84 (the usual mistake with coordinates from Amap).
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import openpyxl
import pytest
import sqlalchemy as sa
from test_manage import PASSWORD, login

import support
from geo import crs, liuyou
from geo.crs import CoordSystem
from geo.errors import Forbidden
from geo.gazetteer import default_gazetteer
from geo.models import Precision, Station
from geo.store import StationRepository, UserRepository
from webapp.services import services

pytestmark = pytest.mark.both_backends

RONGSHUI, LIUJIANG, LIUZHOU = "450225", "450206", "450200"
USERS = {
    "root": ("admin", ()),
    "rs_editor": ("editor", (RONGSHUI,)),
    "lz_reviewer": ("reviewer", (LIUZHOU,)),
    "viewer": ("staff", (LIUJIANG,)),
}
NOW = datetime.now(UTC)


def _gcj_trap(g, seed: int = 42) -> tuple[float, float, float, float]:
    """A WGS-84 point of 融水 whose GCJ-02 coordinate lies in another county:
    ``(wgs lon, wgs lat, gcj lon, gcj lat)``."""
    rng = random.Random(seed)
    seat = g.get(RONGSHUI)
    xs = np.array([seat.lon + rng.uniform(-0.8, 0.8) for _ in range(20000)])
    ys = np.array([seat.lat + rng.uniform(-0.8, 0.8) for _ in range(20000)])
    gx, gy = crs.wgs84_to_gcj02(xs, ys)
    here, there = g.county_codes_at(xs, ys), g.county_codes_at(gx, gy)
    i = next(
        k for k in range(len(xs)) if here[k] == RONGSHUI and there[k] not in (None, "", RONGSHUI)
    )
    return float(xs[i]), float(ys[i]), float(gx[i]), float(gy[i])


def _station(id_: str, county: str, lon: float, lat: float, **kw) -> Station:
    names = {RONGSHUI: "融水苗族自治县", LIUJIANG: "柳江区"}
    base = dict(
        id=id_,
        name=f"驿站{id_}",
        kind="rest_stop",
        lon=lon,
        lat=lat,
        orig_lon=lon,
        orig_lat=lat,
        orig_crs=CoordSystem.WGS84,
        precision=Precision.EXACT,
        province_code="450000",
        province="广西壮族自治区",
        prefecture_code=LIUZHOU,
        prefecture="柳州市",
        county_code=county,
        county=names[county],
        updated_at=NOW,
    )
    base.update(kw)
    return Station(**base)


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review")
    g = default_gazetteer()
    wx, wy, gx, gy = _gcj_trap(g)
    rs = g.get(RONGSHUI)
    lj = g.get(LIUJIANG)
    with support.module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        users = UserRepository(repo.engine)
        for name, (role, areas) in USERS.items():
            users.create(name, PASSWORD, role, areas)
        dx, dy = rs.lon + 0.0002, rs.lat  # ~20 m east of D1
        repo.save(
            [
                _station("G", RONGSHUI, gx, gy),
                _station("C1", RONGSHUI, rs.lon, rs.lat, precision=Precision.COUNTY),
                _station("C2", RONGSHUI, rs.lon, rs.lat + 0.001, precision=Precision.COUNTY),
                _station("D1", RONGSHUI, rs.lon, rs.lat - 0.01, name="融水镇职工驿站"),
                _station("D2", RONGSHUI, dx, dy - 0.01, name="融水镇 职工驿站", phone="0772-1"),
                _station(
                    "S1", RONGSHUI, rs.lon, rs.lat - 0.02, updated_at=NOW - timedelta(days=400)
                ),
                _station("OK", RONGSHUI, rs.lon, rs.lat - 0.03),
                _station("L1", LIUJIANG, lj.lon, lj.lat, precision=Precision.COUNTY),
            ],
            actor="seed",
        )
        # The queue's own actions by an editor (approval off); with approval: the last test.
        app = support.make_app(
            url,
            planner_dir=str(tmp / "jobs"),
            tile_url="",
            login_rate_per_minute=1000,
            approval=False,
        )
        yield {"repo": repo, "app": app, "wgs": (wx, wy), "gazetteer": g, "url": url, "tmp": tmp}
        support.close_app(app)
        repo.engine.dispose()


def _items(client, **args) -> dict[str, dict]:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    rv = client.get(f"/manage/review?format=json&{query}")
    assert rv.status_code == 200, rv.get_data(as_text=True)
    return {i["key"]: i for i in rv.get_json()["items"]}


def _seen(client, key: str) -> str:
    """The versions of item ``key``'s stations as its page shows them (the JSON twin), in
    the form a decision sends them."""
    rv = client.get(f"/manage/review/{key}?format=json")
    return json.dumps(rv.get_json()["item"]["versions"]) if rv.status_code == 200 else ""


def _state(client, key: str) -> str:
    """Item ``key``'s state as its page shows it (sent with a decision, as the page does)."""
    rv = client.get(f"/manage/review/{key}?format=json")
    return rv.get_json()["item"]["state"] if rv.status_code == 200 else ""


def _post(client, key: str, **form):
    """Decide ``key`` as the page does: with the versions and the state the user saw."""
    form.setdefault("versions", _seen(client, key))
    form.setdefault("state", _state(client, key))
    return client.post(
        f"/manage/review/{key}?format=json", data={**form, "csrf_token": client.csrf}
    )


def _review_rows(env) -> list:
    with env["repo"].engine.connect() as conn:
        return conn.execute(sa.text("SELECT key, state FROM review_items ORDER BY key")).all()


def test_queue_has_each_kind_and_counts_per_county(env):
    client = login(env, "rs_editor")
    items = _items(client)
    assert set(items) == {
        "conflict:G",
        "coarse:C1",
        "coarse:C2",
        "duplicate:D1:D2",
        "stale:S1",
    }  # L1 is 柳江's; OK has nothing to review
    assert "GCJ-02" in items["conflict:G"]["reasons"][0]
    cand = items["conflict:G"]["candidates"][0]
    assert cand["source"] == "gcj02"
    # the converted candidate is the true WGS-84 point, to well under a metre
    assert crs.distance_m(cand["lon"], cand["lat"], *env["wgs"]) < 1.0
    doc = client.get("/manage/review?format=json").get_json()
    assert doc["counts"] == [
        {
            "county_code": RONGSHUI,
            "county": "融水苗族自治县",
            "coarse": 2,
            "conflict": 1,
            "duplicate": 1,
            "stale": 1,
            "total": 5,
        }
    ]
    assert _items(client, kind="duplicate").keys() == {"duplicate:D1:D2"}
    reviewer = _items(login(env, "lz_reviewer"))
    assert "coarse:L1" in reviewer and "coarse:C1" in reviewer
    assert set(_items(login(env, "viewer"))) == {"coarse:L1"}
    html = login(env, "rs_editor").get("/manage/").get_data(as_text=True)
    assert 'id="mg-review-counts"' in html and "位置粗略" in html


def test_fix_with_the_gcj02_candidate_stores_the_wgs84_position(env):
    client = login(env, "rs_editor")
    page = client.get("/manage/review/conflict:G").get_data(as_text=True)
    assert "按 GCJ-02（高德）坐标换算" in page
    rv = _post(client, "conflict:G", action="fix", candidate="0")
    assert rv.status_code == 200, rv.get_json()
    assert rv.get_json()["item"]["state"] == "fixed"
    s = env["repo"].get("G")
    assert crs.distance_m(s.lon, s.lat, *env["wgs"]) < 1.0
    assert env["gazetteer"].county_codes_at(s.lon, s.lat)[0] == RONGSHUI
    last = env["repo"].history("G")[-1]
    assert (last.source, last.actor, last.action) == ("review", "rs_editor", "edit")
    assert set(last.changes) >= {"lon", "lat"}
    assert "conflict:G" not in _items(client, state="all")  # the check no longer raises it


def test_accept_needs_a_reason_persists_and_reopens_after_an_edit(env):
    client = login(env, "rs_editor")
    rv = _post(client, "coarse:C1", action="accept", reason="  ")
    assert rv.status_code == 400 and rv.get_json()["error"]["field"] == "reason"
    assert ("coarse:C1", "accepted") not in _review_rows(env)
    rv = _post(client, "coarse:C1", action="accept", reason="村里只有这一个位置")
    assert rv.status_code == 200 and rv.get_json()["item"]["state"] == "accepted"
    assert "coarse:C1" not in _items(client)
    accepted = _items(client, state="accepted")["coarse:C1"]
    assert accepted["actor"] == "rs_editor" and accepted["decision_reason"] == "村里只有这一个位置"
    # a later change of the station brings the item back
    s = env["repo"].get("C1")
    env["repo"].save([dataclasses.replace(s, address="新地址")], actor="someone")
    assert _items(client)["coarse:C1"]["state"] == "open"


def test_merge_keeps_one_deletes_the_other_both_audited(env):
    client = login(env, "rs_editor")
    rv = _post(client, "duplicate:D1:D2", action="merge", keep="NOPE")
    assert rv.status_code == 400 and rv.get_json()["error"]["field"] == "keep"
    assert env["repo"].get("D2") is not None
    rv = _post(client, "duplicate:D1:D2", action="merge", keep="D1", reason="同一驿站")
    assert rv.status_code == 200 and rv.get_json()["item"]["state"] == "merged"
    assert env["repo"].get("D2") is None
    kept = env["repo"].get("D1")
    assert kept.phone == "0772-1"  # an empty field filled from the removed one
    d1, d2 = env["repo"].history("D1")[-1], env["repo"].history("D2")[-1]
    assert d2.action == "delete" and d2.source == "review" and d2.actor == "rs_editor"
    assert (d1.source, d1.actor, d1.reason) == ("review", "rs_editor", "同一驿站")
    assert ("duplicate:D1:D2", "merged") in _review_rows(env)


def test_dismiss_hides_the_item(env):
    client = login(env, "rs_editor")
    rv = _post(client, "stale:S1", action="dismiss")
    assert rv.status_code == 200
    assert "stale:S1" not in _items(client)
    assert _items(client, state="dismissed")["stale:S1"]["actor"] == "rs_editor"


def test_html_action_redirects_and_bad_position_names_its_field(env):
    client = login(env, "rs_editor")
    rv = client.post(
        "/manage/review/coarse:C2",
        data={
            "action": "fix",
            "lon": "abc",
            "lat": "1",
            "versions": _seen(client, "coarse:C2"),
            "csrf_token": client.csrf,
        },
    )
    assert rv.status_code == 400 and 'data-field="lon"' in rv.get_data(as_text=True)
    rv = client.post(
        "/manage/review/coarse:C2",
        data={"action": "dismiss", "csrf_token": client.csrf},
    )
    assert rv.status_code == 303 and "/manage/review" in rv.location


def _snapshot(env):
    with env["repo"].engine.connect() as conn:
        return [
            conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
            for t in ("stations", "station_versions", "review_items")
        ]


@pytest.mark.parametrize(
    "form",
    [
        {"action": "accept", "reason": "x"},
        {"action": "dismiss"},
        {"action": "fix", "lon": "109.3", "lat": "24.3"},
    ],
)
def test_out_of_area_action_is_403_and_writes_nothing(env, form):
    client = login(env, "rs_editor")
    before = _snapshot(env)
    assert client.get("/manage/review/coarse:L1?format=json").status_code == 403
    rv = _post(client, "coarse:L1", **form)
    assert rv.status_code == 403
    staff = login(env, "viewer")  # L1 is in its area, but staff may not edit
    assert _post(staff, "coarse:L1", **form).status_code == 403
    assert _snapshot(env) == before


def test_liuyou_page_numbers_equal_summarise(env):
    client = login(env, "rs_editor")
    doc = client.get("/manage/liuyou?format=json").get_json()
    (area,) = doc["areas"]
    assert area["code"] == RONGSHUI
    g = env["gazetteer"]
    mine = [s for s in env["repo"].all() if liuyou.in_area(s, RONGSHUI)]
    assessments = liuyou.assess_all(mine, services(env["app"]).settings.liuyou(), g)
    counties, towns = liuyou.summarise(mine, assessments, RONGSHUI, g)
    assert area["counties"] == liuyou.unit_rows(counties)
    assert area["townships"] == liuyou.unit_rows(towns)
    assert len(area["townships"]) > 1 and any(t["stations"] == 0 for t in area["townships"])
    html = client.get("/manage/liuyou").get_data(as_text=True)
    c = area["counties"][0]
    assert f"{c['layout_pass']} / {c['layout_fail']} / {c['layout_unknown']}" in html
    rv = client.get(f"/manage/liuyou.xlsx?area={RONGSHUI}")
    assert rv.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(rv.data))
    assert {"县区汇总", "乡镇汇总", "站点明细"} <= set(wb.sheetnames)
    assert wb["站点明细"].max_row == len(mine) + 1
    assert client.get(f"/manage/liuyou?format=json&area={LIUJIANG}").status_code == 403
    assert client.get(f"/manage/liuyou.xlsx?area={LIUJIANG}").status_code == 403


def test_merge_is_one_transaction(repo, monkeypatch):
    """When deleting the duplicate fails, the kept station's merge is not written either."""
    from geo import review_queue

    g = default_gazetteer()
    rs = g.get(RONGSHUI)
    repo.save(
        [
            _station("A", RONGSHUI, rs.lon, rs.lat, name="同名驿站"),
            _station("B", RONGSHUI, rs.lon + 0.0001, rs.lat, name="同名驿站", phone="1"),
        ]
    )
    before = repo.history("A")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(StationRepository, "delete", broken)
    seen = {"A": repo.get("A").version, "B": repo.get("B").version}
    with pytest.raises(RuntimeError):
        review_queue.apply(
            repo, g, "duplicate:A:B", "merge", actor="x", areas=[RONGSHUI], keep="A", versions=seen
        )
    assert repo.history("A") == before and repo.get("A").phone is None
    assert repo.get("B") is not None
    monkeypatch.undo()
    item = review_queue.apply(
        repo, g, "duplicate:A:B", "merge", actor="x", areas=[RONGSHUI], keep="A", versions=seen
    )
    assert item.state == "merged" and repo.get("B") is None and repo.get("A").phone == "1"
    with pytest.raises(Forbidden):  # out of area: refused before anything else
        review_queue.apply(repo, g, "coarse:A", "accept", actor="x", areas=["450206"], reason="r")


def test_with_approval_fix_and_merge_are_for_reviewers(env):
    """YIZHAN_APPROVAL on: an editor may accept or dismiss an item (nothing of a station
    changes) but not fix or merge (403, nothing written); a reviewer of the area may."""
    app = support.make_app(
        env["url"],
        planner_dir=str(env["tmp"] / "jobs-approval"),
        tile_url="",
        login_rate_per_minute=1000,
        approval=True,
    )
    try:
        editor = support.login(app, "rs_editor", PASSWORD)
        page = editor.get("/manage/review/coarse:C2").get_data(as_text=True)
        assert 'id="mg-fix"' not in page and 'id="mg-accept"' in page  # not offered
        assert '"editable": false' in page  # nor is the map's pin
        before = env["repo"].get("C2")
        fix = {
            "action": "fix",
            "lon": "109.3",
            "lat": "25.1",
            "versions": _seen(editor, "coarse:C2"),
            "csrf_token": editor.csrf,
        }
        rv = editor.post("/manage/review/coarse:C2?format=json", data=fix)
        assert rv.status_code == 403, rv.get_data(as_text=True)
        merge = {
            "action": "merge",
            "keep": "D1",
            "versions": _seen(editor, "duplicate:D1:D2"),
            "csrf_token": editor.csrf,
        }
        rv = editor.post("/manage/review/duplicate:D1:D2?format=json", data=merge)
        assert rv.status_code == 403, rv.get_data(as_text=True)
        assert env["repo"].get("C2") == before
        reviewer = support.login(app, "lz_reviewer", PASSWORD)
        page = reviewer.get("/manage/review/coarse:C2").get_data(as_text=True)
        assert 'id="mg-fix"' in page and '"editable": true' in page
        rv = reviewer.post(
            "/manage/review/coarse:C2?format=json",
            data={
                "action": "fix",
                "lon": "109.2425",
                "lat": "25.0672",
                "versions": _seen(reviewer, "coarse:C2"),
                "state": _state(reviewer, "coarse:C2"),
                "csrf_token": reviewer.csrf,
            },
        )
        assert rv.status_code == 200, rv.get_data(as_text=True)
        assert env["repo"].get("C2").lon == 109.2425
    finally:
        support.close_app(app)


def test_a_fix_stays_in_my_areas_and_in_the_stated_county(env):
    """Fixing a position cannot move a station elsewhere: a point outside the editor's areas is
    refused (403), and one outside the county the record states is refused (400) even for a
    prefecture reviewer who covers it; nothing is written."""
    from geo.gazetteer import default_gazetteer

    seat = default_gazetteer().get(LIUJIANG)  # 柳江's seat: outside 融水
    before = env["repo"].get("C1")
    for name, status in (("rs_editor", 403), ("lz_reviewer", 400)):
        client = login(env, name)
        rv = client.post(
            "/manage/review/coarse:C1?format=json",
            data={
                "action": "fix",
                "lon": str(seat.lon),
                "lat": str(seat.lat),
                "versions": _seen(client, "coarse:C1"),
                "csrf_token": client.csrf,
            },
        )
        assert rv.status_code == status, (name, rv.get_data(as_text=True))
        assert env["repo"].get("C1") == before
