"""Approval pages (issue 15 item 5): the queue and my changes, one change field by field,
approve / reject through the web with CSRF; the public map's reads (``/api/stations``,
``/api/nearest``, OGC items, the station page; the embed reads ``/api/stations``) show the
old data until approval and the new after; refusals write nothing. On SQLite and PostgreSQL,
through the real login form of a real app."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import sqlalchemy as sa

import support
from geo.models import Station
from geo.store.changes import ChangeStore
from geo.store.schema import station_changes, station_versions
from webapp.services import services

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RONGSHUI, LIUJIANG, LIUZHOU = "450225", "450206", "450200"
USERS = {
    "root": ("admin", ()),
    "rs_editor": ("editor", (RONGSHUI,)),
    "lz_reviewer": ("reviewer", (LIUZHOU,)),
    "rs_reviewer": ("reviewer", (RONGSHUI,)),
    "lj_reviewer": ("reviewer", (LIUJIANG,)),
    "viewer": ("staff", (LIUJIANG,)),
}


def _station(id_: str, county: str = RONGSHUI, **kw) -> Station:
    base = dict(
        id=id_,
        name=f"审批站{id_}",
        kind="rest_stop",
        lon=109.25,
        lat=25.06,
        province_code="450000",
        prefecture_code=LIUZHOU,
        county_code=county,
        county="融水苗族自治县" if county == RONGSHUI else "柳江区",
        phone="0772-1234567",
    )
    base.update(kw)
    return Station(**base)


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    with support.workspace(request, tmp_path_factory.mktemp("changes_web"), USERS, PASSWORD) as env:
        # public reads see a write within the index's check interval (1 s); here at once
        services(env["app"]).index.check_interval_s = 0
        yield {**env, "store": ChangeStore(env["repo"])}


def login(env, name: str):
    return support.login(env["app"], name, PASSWORD)


def _counts(env) -> tuple[int, int, list]:
    with env["repo"].engine.connect() as conn:
        versions = conn.execute(sa.select(sa.func.count()).select_from(station_versions))
        states = conn.execute(
            sa.select(station_changes.c.id, station_changes.c.state).order_by(station_changes.c.id)
        ).all()
        return versions.scalar(), env["repo"].count(), [tuple(r) for r in states]


def _public_view(env, sid: str, lon: float, lat: float) -> dict:
    """What the public sees of one station through every read path."""
    anon = env["app"].test_client()
    listed = anon.get("/api/stations").get_json()
    feature = next(f for f in listed["features"] if f["id"] == sid)
    near = anon.get(f"/api/nearest?lon={lon}&lat={lat}&k=1").get_json()["features"][0]
    ogc = anon.get(f"/ogc/collections/stations/items/{sid}?f=json").get_json()
    page = anon.get(f"/stations/{sid}").get_data(as_text=True)
    assert anon.get("/embed").status_code == 200  # the embed reads /api/stations
    return {
        "api": (feature["properties"]["name"], feature["geometry"]["coordinates"]),
        "nearest": (near["id"], near["properties"]["name"]),
        "ogc": (ogc["properties"]["name"], ogc["geometry"]["coordinates"]),
        "page": re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1).strip(),
    }


def test_public_reads_show_old_data_until_approval_then_new(env):
    repo, store = env["repo"], env["store"]
    repo.save([_station("W1")], actor="cli:x", source="cli")
    proposed = _station("W1", name="审批站W1新址", lon=109.26, lat=25.07)
    change = store.propose("edit", proposed, base_version=1, author="rs_editor", reason="挪位置")
    old = _public_view(env, "W1", 109.26, 25.07)
    assert old["api"] == ("审批站W1", [109.25, 25.06])
    assert old["nearest"] == ("W1", "审批站W1")
    assert old["ogc"][0] == "审批站W1" and "审批站W1" in old["page"]
    assert "新址" not in json.dumps(old, ensure_ascii=False)

    rev = login(env, "lz_reviewer")
    queue = rev.get("/manage/changes?format=json").get_json()
    assert [c["id"] for c in queue["queue"]] == [change.id] and queue["approval"] is True
    detail = rev.get(f"/manage/changes/{change.id}?format=json").get_json()
    assert detail["may_decide"] and detail["position"]["after"] == [109.26, 25.07]
    assert {r["field"] for r in detail["rows"]} == {"name", "lon", "lat"}
    html = rev.get(f"/manage/changes/{change.id}").get_data(as_text=True)
    assert 'id="mg-change-map"' in html and "js/manage/changes.js" in html
    assert "<script>" not in html  # strict CSP: JS files only
    rv = rev.post(
        f"/manage/changes/{change.id}/approve?format=json",
        data={"comment": "已到现场核对", "csrf_token": rev.csrf},
    )
    assert rv.status_code == 200, rv.get_data(as_text=True)
    assert rv.get_json()["change"]["state"] == "approved"

    new = _public_view(env, "W1", 109.26, 25.07)
    assert new["api"] == ("审批站W1新址", [109.26, 25.07])
    assert new["nearest"] == ("W1", "审批站W1新址")
    assert new["ogc"][0] == "审批站W1新址" and "审批站W1新址" in new["page"]
    last = repo.history("W1")[-1]
    assert (last.actor, last.source) == ("rs_editor", "review") and "lz_reviewer" in last.reason

    editor = login(env, "rs_editor")
    mine = editor.get("/manage/changes?format=json").get_json()
    assert mine["queue"] == [] and mine["mine"][0]["state"] == "approved"
    assert mine["mine"][0]["comment"] == "已到现场核对"


def test_reject_with_comment_in_html_and_editor_sees_it(env):
    repo, store = env["repo"], env["store"]
    repo.save([_station("W2")])
    change = store.propose("edit", _station("W2", phone="110"), base_version=1, author="rs_editor")
    rev = login(env, "rs_reviewer")
    before = _counts(env)
    rv = rev.post(f"/manage/changes/{change.id}/reject", data={"csrf_token": rev.csrf})
    assert rv.status_code == 400 and _counts(env) == before  # a comment is required
    rv = rev.post(
        f"/manage/changes/{change.id}/reject",
        data={"comment": "电话号码不对", "csrf_token": rev.csrf},
    )
    assert rv.status_code == 303 and rv.location.endswith(f"/manage/changes/{change.id}")
    assert repo.get("W2").phone == "0772-1234567" and len(repo.history("W2")) == 1
    editor = login(env, "rs_editor")
    page = editor.get("/manage/changes").get_data(as_text=True)
    assert "电话号码不对" in page and "已退回" in page
    one = editor.get(f"/manage/changes/{change.id}").get_data(as_text=True)
    assert 'id="mg-comment"' in one and "电话号码不对" in one


def test_self_out_of_area_and_editor_refused_403_nothing_written(env):
    repo, store = env["repo"], env["store"]
    repo.save([_station("W3")])
    own = store.propose("edit", _station("W3", phone="1"), base_version=1, author="lz_reviewer")
    for name in ("lz_reviewer", "lj_reviewer", "rs_editor", "viewer"):
        client = login(env, name)
        before = _counts(env)
        for path in ("approve", "reject"):
            rv = client.post(
                f"/manage/changes/{own.id}/{path}?format=json",
                data={"comment": "x", "csrf_token": client.csrf},
            )
            assert rv.status_code == 403, (name, path, rv.status_code)
        assert _counts(env) == before
    page = login(env, "lz_reviewer").get(f"/manage/changes/{own.id}").get_data(as_text=True)
    assert 'id="mg-own"' in page and 'id="mg-decide"' not in page
    # another county's staff may not even look at it
    assert login(env, "lj_reviewer").get(f"/manage/changes/{own.id}").status_code == 403


def test_approval_after_a_direct_change_is_refused_with_what_changed(env):
    repo, store = env["repo"], env["store"]
    repo.save([_station("W4")])
    change = store.propose("edit", _station("W4", name="乙"), base_version=1, author="rs_editor")
    repo.save([_station("W4", hours="08:00-18:00")], actor="root", source="web", reason="直改")
    rev = login(env, "lz_reviewer")
    before = _counts(env)
    rv = rev.post(f"/manage/changes/{change.id}/approve?format=json", data={"csrf_token": rev.csrf})
    assert rv.status_code == 409
    body = rv.get_json()
    assert body["error"]["changes"][0]["actor"] == "root"
    assert body["error"]["changes"][0]["fields"] == ["hours"]
    assert _counts(env) == before and store.get(change.id).state == "pending"
    page = rev.post(f"/manage/changes/{change.id}/approve", data={"csrf_token": rev.csrf})
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert 'id="mg-conflict"' in html and 'id="mg-stale"' in html


def test_dashboard_shows_pending_counts_per_county(env):
    store, repo = env["store"], env["repo"]
    repo.save([_station("W5", county=LIUJIANG)])
    store.propose("edit", _station("W5", county=LIUJIANG, phone="2"), base_version=1, author="root")
    html = login(env, "lj_reviewer").get("/manage/").get_data(as_text=True)
    section = html[html.index('id="mg-pending"') :]
    assert LIUJIANG in section and RONGSHUI not in section
    pending_lz = sum(c["pending"] for c in store.pending_counts([LIUZHOU]))
    assert pending_lz >= 1


def test_withdraw_by_author(env):
    repo, store = env["repo"], env["store"]
    repo.save([_station("W6")])
    change = store.propose("edit", _station("W6", phone="3"), base_version=1, author="rs_editor")
    editor = login(env, "rs_editor")
    rv = editor.post(
        f"/manage/changes/{change.id}/withdraw?format=json", data={"csrf_token": editor.csrf}
    )
    assert rv.status_code == 200 and rv.get_json()["change"]["state"] == "withdrawn"
    other = login(env, "root")
    again = store.propose("edit", _station("W6", phone="4"), base_version=1, author="rs_editor")
    rv = other.post(
        f"/manage/changes/{again.id}/withdraw?format=json", data={"csrf_token": other.csrf}
    )
    assert rv.status_code == 403 and store.get(again.id).state == "pending"


def test_english_page(env):
    store, repo = env["store"], env["repo"]
    repo.save([_station("W7")])
    change = store.propose("edit", _station("W7", phone="5"), base_version=1, author="rs_editor")
    rev = login(env, "lz_reviewer")
    html = rev.get(f"/manage/changes/{change.id}?lang=en").get_data(as_text=True)
    assert "Field by field" in html and "Approve" in html
    assert dataclasses.replace(_station("W7"), phone="5").phone == "5"


def test_an_editors_form_edit_waits_for_approval_and_history_shows_both_steps(env):
    """The issue's path without a browser: an editor of 融水 moves a station with the edit
    form (geo.workspace.submit with approval on), the change waits and the public reads keep
    the old position; a reviewer of 柳州 approves; the public reads show the new position and
    the station's history page shows the proposal, the approval and the approved version."""
    repo = env["repo"]
    lon, lat = 109.256, 25.066  # inside 融水 by the bundled outlines
    repo.save([_station("W9", lon=lon, lat=lat)], actor="cli:x", source="cli")
    editor = login(env, "rs_editor")
    rv = editor.post(
        "/manage/stations/W9",
        data={
            "csrf_token": editor.csrf,
            "base_version": "1",
            "lon": str(lon + 0.002),
            "lat": str(lat),
            "crs": "wgs84",
            "reason": "现场核实",
        },
    )
    assert rv.status_code == 303 and "/manage/changes/" in rv.location, rv.location
    change_id = int(rv.location.rsplit("/", 1)[1])
    assert repo.get("W9").lon == lon and repo.get("W9").version == 1  # nothing published
    assert _public_view(env, "W9", lon, lat)["api"][1] == [lon, lat]

    reviewer = login(env, "lz_reviewer")
    rv = reviewer.post(
        f"/manage/changes/{change_id}/approve?format=json",
        data={"comment": "同意", "csrf_token": reviewer.csrf},
    )
    assert rv.status_code == 200, rv.get_data(as_text=True)
    assert repo.get("W9").lon == lon + 0.002 and repo.get("W9").version == 2
    assert _public_view(env, "W9", lon + 0.002, lat)["api"][1] == [lon + 0.002, lat]

    doc = editor.get("/manage/stations/W9/history?format=json").get_json()
    top = doc["versions"][0]
    assert (top["version"], top["actor"], top["reviewer"]) == (2, "rs_editor", "lz_reviewer")
    assert top["change_id"] == change_id and top["changes"]["lon"] == [lon, lon + 0.002]
    assert [(s["kind"], s["actor"]) for s in doc["steps"]] == [
        ("approved", "lz_reviewer"),
        ("proposed", "rs_editor"),
    ]
    html = editor.get("/manage/stations/W9/history").get_data(as_text=True)
    assert 'id="ms-steps"' in html and "审核人 lz_reviewer 批准" in html


def test_an_editors_revert_waits_for_approval_like_any_edit(env):
    """With approval on, an editor cannot bypass it through the history page's revert: the
    earlier record is proposed over the current version and nothing is published."""
    repo = env["repo"]
    repo.save([_station("W10")], actor="cli:x", source="cli")
    repo.save([_station("W10", phone="0772-7654321")], actor="cli:x", source="cli")
    editor = login(env, "rs_editor")
    rv = editor.post(
        "/manage/stations/W10/revert?format=json",
        data={"csrf_token": editor.csrf, "version": "1", "base_version": "2", "reason": "改回"},
    )
    assert rv.status_code == 202, rv.get_data(as_text=True)
    pending = rv.get_json()["pending"]
    assert repo.get("W10").phone == "0772-7654321" and repo.get("W10").version == 2
    change = env["store"].get(pending["id"])
    assert change.state == "pending" and change.changes["phone"] == ["0772-7654321", "0772-1234567"]
    assert "恢复到版本 1：改回" in change.reason


def test_an_unchanged_save_with_approval_waits_for_nothing(env):
    """Saving the form without a change, approval on: nothing to approve, no pending change,
    the form answers as a save that changed nothing (not an error page)."""
    repo, store = env["repo"], env["store"]
    repo.save([_station("W11", lon=109.256, lat=25.066)], actor="cli:x", source="cli")
    reviewer = login(env, "rs_reviewer")  # publishes directly: the record as the form keeps it
    rv = reviewer.post(
        "/manage/stations/W11?format=json",
        data={"csrf_token": reviewer.csrf, "base_version": "1", "phone": "0772-1234567"},
    )
    version = rv.get_json()["version"]
    editor = login(env, "rs_editor")
    rv = editor.post(
        "/manage/stations/W11?format=json",
        data={"csrf_token": editor.csrf, "base_version": str(version), "phone": "0772-1234567"},
    )
    assert rv.status_code == 200, rv.get_data(as_text=True)
    assert rv.get_json()["pending"] is None and rv.get_json()["written"] is False
    assert [c for c in store.mine("rs_editor") if c.station_id == "W11"] == []
