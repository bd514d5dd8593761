"""The station list's review state and the pending changes on the edit form (issue 15 items 2
and 5): ``/manage/stations?review=pending|rejected|queue|clear`` with a state and its label on
each row and the counts per state; the edit form shows the user's own pending proposal (saving
again supersedes it) and other users' (read-only), HTML and JSON twin; the superseded change
names the change that replaced it. On SQLite and PostgreSQL, through the real login form."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

import support
from geo.models import Precision, Station
from geo.store.changes import ChangeStore
from webapp.services import services

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RONGSHUI = "450225"
USERS = {
    "ed": ("editor", (RONGSHUI,)),
    "ed2": ("editor", (RONGSHUI,)),
    "rev": ("reviewer", ("450200",)),
}
IN_RONGSHUI = (109.256, 25.066)  # inside 融水 by the bundled outlines


def _station(id_: str, **kw) -> Station:
    base = dict(
        id=id_,
        name=f"列表站{id_}",
        kind="rest_stop",
        lon=IN_RONGSHUI[0],
        lat=IN_RONGSHUI[1],
        province_code="450000",
        prefecture_code="450200",
        county_code=RONGSHUI,
        county="融水苗族自治县",
        phone="0772-5123456",
        precision=Precision.EXACT,
    )
    base.update(kw)
    return Station(**base)


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manage_list_state")
    with support.workspace(request, tmp, USERS, PASSWORD, approval=True) as env:
        yield {**env, "store": ChangeStore(env["repo"])}


@pytest.fixture
def stations(env):
    """P: a pending change (by ed); Q: an open queue item (coarse position); R: its latest
    change rejected; C: clear (an approved change only); D: clear (nothing at all)."""
    repo, store = env["repo"], env["store"]
    with repo.engine.begin() as conn:
        for table in ("station_changes", "station_versions", "stations"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    repo.save(
        [
            _station("P", lon=109.257),
            _station("Q", lon=109.258, precision=Precision.COUNTY),
            _station("R", lon=109.259),
            _station("C", lon=109.260),
            _station("D", lon=109.261),
        ],
        actor="setup",
        source="cli",
    )
    users = {n: env["users"].get(n) for n in USERS}
    store.propose("edit", _station("P", lon=109.257, phone="1"), base_version=1, author="ed")
    r = store.propose("edit", _station("R", lon=109.259, phone="2"), base_version=1, author="ed")
    store.reject(r.id, users["rev"], "电话不对")
    c = store.propose("edit", _station("C", lon=109.260, phone="3"), base_version=1, author="ed")
    store.approve(c.id, users["rev"])
    return repo


def login(env, name: str):
    return support.login(env["app"], name, PASSWORD)


def test_list_filters_by_review_state_and_counts_agree(env, stations):
    client = login(env, "ed")
    doc = client.get("/manage/stations?format=json").get_json()
    states = {s["id"]: s["review_state"] for s in doc["stations"]}
    assert states == {"P": "pending", "Q": "queue", "R": "rejected", "C": "clear", "D": "clear"}
    assert doc["review_counts"] == {"pending": 1, "rejected": 1, "queue": 1, "clear": 2}
    for state, ids in (("pending", {"P"}), ("queue", {"Q"}), ("rejected", {"R"})):
        found = client.get(f"/manage/stations?format=json&review={state}").get_json()
        assert {s["id"] for s in found["stations"]} == ids and found["total"] == len(ids)
        assert found["review_counts"] == doc["review_counts"]  # counts over the other filters
    clear = client.get("/manage/stations?format=json&review=clear").get_json()
    assert {s["id"] for s in clear["stations"]} == {"C", "D"}
    both = client.get("/manage/stations?format=json&review=clear&q=列表站C").get_json()
    assert [s["id"] for s in both["stations"]] == ["C"]
    assert both["review_counts"] == {"pending": 0, "rejected": 0, "queue": 0, "clear": 1}
    assert client.get("/manage/stations?format=json&review=nope").status_code == 400
    html = client.get("/manage/stations?review=pending").get_data(as_text=True)
    assert 'id="ms-review"' in html and 'data-review="pending"' in html
    assert "待审批" in html and "列表站P" in html and "列表站Q" not in html
    assert 'id="ms-review-counts"' in html
    english = client.get("/manage/stations?lang=en&format=json").get_json()["stations"]
    assert {s["id"]: s["review_label"] for s in english}["Q"] == "In the review queue"


def test_a_rejection_settled_by_a_later_save_is_no_longer_rejected(env, stations):
    """R's change was rejected; a reviewer then saves R directly (reviewers publish): the
    list no longer says 已退回 (the rejection was about a version that is gone)."""
    client = login(env, "ed")
    states = {
        s["id"]: s["review_state"]
        for s in client.get("/manage/stations?format=json").get_json()["stations"]
    }
    assert states["R"] == "rejected"
    repo = env["repo"]
    r = repo.get("R")
    repo.save([dataclasses.replace(r, phone="0772-2")], actor="rev", source="web", reason="改正")
    doc = client.get("/manage/stations?format=json").get_json()
    states = {s["id"]: s["review_state"] for s in doc["stations"]}
    assert states["R"] == "clear" and doc["review_counts"]["rejected"] == 0


def test_a_change_rejected_as_out_of_date_still_shows_as_rejected(env, stations):
    """The station changed after the editor proposed (so the version is past the change's
    base) and the reviewer rejects the now out-of-date change: the editor still sees
    已退回 until the station is saved again after the rejection."""
    repo, store = env["repo"], env["store"]
    d = repo.get("D")
    change = store.propose(
        "edit", dataclasses.replace(d, phone="0772-7"), base_version=d.version, author="ed"
    )
    repo.save([dataclasses.replace(d, phone="0772-8")], actor="rev", source="web", reason="改")
    store.reject(change.id, env["users"].get("rev"), "已过时，请按最新版本重新提交")
    client = login(env, "ed")
    states = {
        s["id"]: s["review_state"]
        for s in client.get("/manage/stations?format=json").get_json()["stations"]
    }
    assert states["D"] == "rejected"
    d = repo.get("D")
    repo.save([dataclasses.replace(d, phone="0772-9")], actor="rev", source="web", reason="改")
    states = {
        s["id"]: s["review_state"]
        for s in client.get("/manage/stations?format=json").get_json()["stations"]
    }
    assert states["D"] == "clear"


def test_list_reads_the_changes_once_per_page_not_per_station(env, stations):
    """Thousands of stations: the states come from one query of ``station_changes``."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if "station_changes" in statement:
            seen.append(statement)

    engine = services(env["app"]).repo.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        login(env, "ed").get("/manage/stations?format=json")
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(seen) == 1, seen


def test_edit_form_shows_own_and_others_pending_changes(env, stations):
    store = env["store"]
    other = store.propose(
        "edit", _station("P", lon=109.257, phone="9"), base_version=1, author="ed2"
    )
    mine = next(c for c in store.pending_for("P") if c.author == "ed")
    doc = login(env, "ed").get("/manage/stations/P?format=json").get_json()
    rows = doc["pending_changes"]
    assert [(r["id"], r["own"], r["author"]) for r in rows] == [
        (mine.id, True, "ed"),
        (other.id, False, "ed2"),
    ]
    assert rows[0]["fields"] == [
        {"field": "phone", "label": "联系电话", "before": "0772-5123456", "after": "1"}
    ]
    assert rows[0]["url"].endswith(f"/manage/changes/{mine.id}")
    html = login(env, "ed").get("/manage/stations/P").get_data(as_text=True)
    assert "您对此站点有一项待审核的修改（提交于" in html and "再次保存将替换它" in html
    assert f'href="/manage/changes/{mine.id}"' in html
    assert "ed2 提交的修改正在等待审核" in html
    assert (
        login(env, "ed").get("/manage/stations/D?format=json").get_json()["pending_changes"] == []
    )


def test_saving_again_supersedes_and_the_old_change_names_the_new_one(env, stations):
    old = env["store"].pending_for("P")[0]
    client = login(env, "ed")
    rv = client.post(
        "/manage/stations/P?format=json",
        data={"csrf_token": client.csrf, "base_version": "1", "phone": "0772-1111111"},
    )
    assert rv.status_code == 202, rv.get_data(as_text=True)
    new_id = rv.get_json()["pending"]["id"]
    assert env["store"].get(old.id).state == "superseded"
    doc = client.get(f"/manage/changes/{old.id}?format=json").get_json()
    assert doc["change"]["state"] == "superseded" and doc["superseded_by"] == new_id
    html = client.get(f"/manage/changes/{old.id}").get_data(as_text=True)
    assert f"已被修改 #{new_id} 取代" in html and f'href="/manage/changes/{new_id}"' in html
    steps = client.get("/manage/stations/P/history?format=json").get_json()["steps"]
    assert {"kind": "superseded", "superseded_by": new_id, "change_id": old.id}.items() <= next(
        s for s in steps if s["kind"] == "superseded"
    ).items()
    assert f"已被修改 #{new_id} 取代" in client.get("/manage/stations/P/history").get_data(
        as_text=True
    )
    form = client.get("/manage/stations/P?format=json").get_json()["pending_changes"]
    assert [r["id"] for r in form] == [new_id]
