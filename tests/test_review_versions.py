"""Review-queue decisions carry the versions the user saw (issue 15 item 4), on SQLite and
PostgreSQL: the item page sends its stations' versions with every decision; a station changed
by someone else between viewing and deciding makes the decision a ``409`` that says what
changed, by whom and when (the page shows the item again with the current versions; the JSON
twin answers the error dict) and writes nothing; with the current versions it is applied.
``fix`` and ``merge`` without versions (a script) are refused with ``400``."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import support
from geo.crs import CoordSystem
from geo.errors import Conflict
from geo.gazetteer import default_gazetteer
from geo.models import Precision, Station

pytestmark = pytest.mark.both_backends

RONGSHUI = "450225"
PASSWORD = "review-versions-pw-42"
USERS = {"ed": ("editor", (RONGSHUI,)), "other": ("editor", (RONGSHUI,))}
NOW = datetime.now(UTC)


def _stations() -> list[Station]:
    seat = default_gazetteer().get(RONGSHUI)

    def st(id_: str, dlat: float, **kw) -> Station:
        base = dict(
            id=id_,
            name=f"驿站{id_}",
            kind="rest_stop",
            lon=seat.lon,
            lat=seat.lat + dlat,
            orig_lon=seat.lon,
            orig_lat=seat.lat + dlat,
            orig_crs=CoordSystem.WGS84,
            precision=Precision.COUNTY,
            province_code="450000",
            prefecture_code="450200",
            county_code=RONGSHUI,
            county="融水苗族自治县",
            updated_at=NOW,
        )
        return Station(**{**base, **kw})

    exact = {"precision": Precision.EXACT}
    return [
        st("FIX", 0.001),
        st("ACC", 0.002),
        st("DIS", 0.003),
        st("NOV", 0.004),
        st("GONE", 0.005),
        st("TWICE", 0.006),
        st("BADV", 0.007),
        st("RACE", 0.008),
        st("RACE2", 0.009),
        st("LAPSE", 0.010),
        st("M1", -0.01, name="融水镇驿站", **exact),
        st("M2", -0.01, lon=seat.lon + 0.0002, name="融水镇 驿站", phone="0772-1", **exact),
    ]


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review-versions")
    with support.workspace(request, tmp, USERS, PASSWORD, _stations(), approval=False) as ws:
        yield ws


def _seen(page: str) -> dict[str, int]:
    """The versions an item page sends (each form carries the same hidden field)."""
    found = set(re.findall(r"name=\"versions\" value='([^']*)'", page))
    assert len(found) == 1, found
    return json.loads(found.pop())


def _snapshot(env):
    with env["repo"].engine.connect() as conn:
        return [
            conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
            for t in ("stations", "station_versions", "review_items")
        ]


def _edit_meanwhile(env, station_id: str, address: str) -> None:
    """Someone else changes the station after the page was opened."""
    s = env["repo"].get(station_id)
    env["repo"].save([dataclasses.replace(s, address=address)], actor="other", reason="地址更正")


@pytest.mark.parametrize(
    ("key", "form"),
    [
        ("coarse:FIX", {"action": "fix", "lon": "", "lat": ""}),
        ("coarse:ACC", {"action": "accept", "reason": "只登记到县"}),
        ("coarse:DIS", {"action": "dismiss"}),
        ("duplicate:M1:M2", {"action": "merge", "keep": "M1"}),
    ],
)
def test_a_decision_on_a_changed_station_is_409_and_writes_nothing(env, key, form):
    client = support.login(env["app"], "ed", PASSWORD)
    page = client.get(f"/manage/review/{key}").get_data(as_text=True)
    seen = _seen(page)
    ids = key.split(":")[1:]
    assert seen == {i: env["repo"].get(i).version for i in ids}
    if form["action"] == "fix":  # a pin inside 融水, ~100 m from the seat
        seat = default_gazetteer().get(RONGSHUI)
        form = {**form, "lon": f"{seat.lon + 0.001:.6f}", "lat": f"{seat.lat:.6f}"}
    _edit_meanwhile(env, ids[-1], f"新地址{ids[-1]}")
    before = _snapshot(env)
    data = {**form, "versions": json.dumps(seen), "csrf_token": client.csrf}
    rv = client.post(f"/manage/review/{key}", data=data)
    assert rv.status_code == 409, rv.get_data(as_text=True)[:500]
    html = rv.get_data(as_text=True)
    assert 'id="mg-conflict"' in html and "已被他人修改" in html
    assert "other" in html and "地址" in html and f"新地址{ids[-1]}" in html
    fresh = _seen(html)  # the item again, with the versions now stored
    assert fresh == {i: env["repo"].get(i).version for i in ids} != seen
    rv = client.post(f"/manage/review/{key}?format=json", data=data)
    assert rv.status_code == 409
    err = rv.get_json()["error"]
    assert err["code"] == "conflict" and err["station_id"] == ids[-1]
    assert err["changes"][0]["actor"] == "other" and "address" in err["changes"][0]["fields"]
    assert _snapshot(env) == before  # nothing written
    # with the versions now shown, the decision is applied
    rv = client.post(
        f"/manage/review/{key}?format=json", data={**data, "versions": json.dumps(fresh)}
    )
    assert rv.status_code == 200, rv.get_data(as_text=True)
    state = {"fix": "fixed", "accept": "accepted", "dismiss": "dismissed", "merge": "merged"}
    assert rv.get_json()["item"]["state"] == state[form["action"]]
    if form["action"] == "fix":
        assert env["repo"].get("FIX").precision is Precision.EXACT
    if form["action"] == "merge":
        assert env["repo"].get("M2") is None


def test_fix_without_versions_is_refused(env):
    """A script must say which versions it decides on before it changes a station."""
    client = support.login(env["app"], "ed", PASSWORD)
    seat = default_gazetteer().get(RONGSHUI)
    before = _snapshot(env)
    rv = client.post(
        "/manage/review/coarse:NOV?format=json",
        data={
            "action": "fix",
            "lon": str(seat.lon),
            "lat": str(seat.lat),
            "csrf_token": client.csrf,
        },
    )
    assert rv.status_code == 400 and rv.get_json()["error"]["field"] == "versions"
    rv = client.post(
        "/manage/review/coarse:NOV?format=json",
        data={"action": "fix", "lon": "1", "versions": "{not json", "csrf_token": client.csrf},
    )
    assert rv.status_code == 400 and rv.get_json()["error"]["field"] == "versions"
    assert _snapshot(env) == before


def test_an_item_settled_meanwhile_is_409_not_a_crash(env):
    """Someone else fixed the position after the page was opened: the item left the queue;
    the decision is a 409 saying so (not a 404 or a 500), nothing written."""
    client = support.login(env["app"], "ed", PASSWORD)
    page = client.get("/manage/review/coarse:GONE").get_data(as_text=True)
    seen = _seen(page)
    s = env["repo"].get("GONE")
    env["repo"].save(
        [dataclasses.replace(s, precision=Precision.EXACT, updated_at=NOW + timedelta(seconds=1))],
        actor="other",
        reason="现场核实",
    )
    before = _snapshot(env)
    data = {"action": "accept", "reason": "x", "versions": json.dumps(seen)}
    rv = client.post("/manage/review/coarse:GONE", data={**data, "csrf_token": client.csrf})
    assert rv.status_code == 409
    html = rv.get_data(as_text=True)
    assert "已不在审核队列中" in html and "other" in html
    rv = client.post(
        "/manage/review/coarse:GONE?format=json", data={**data, "csrf_token": client.csrf}
    )
    assert rv.status_code == 409 and rv.get_json()["error"]["code"] == "conflict"
    assert _snapshot(env) == before


def test_an_item_decided_by_someone_else_meanwhile_is_409_not_overwritten(env):
    """Two people decide the same open item (accept and dismiss change no station, so the
    versions still match): the second sees the first decision (who, when, reason) instead
    of silently replacing it; re-deciding it with the state now shown is deliberate."""
    ed = support.login(env["app"], "ed", PASSWORD)
    page = ed.get("/manage/review/coarse:TWICE").get_data(as_text=True)
    seen = _seen(page)
    assert 'name="state" value="open"' in page
    other = support.login(env["app"], "other", PASSWORD)
    first = {
        "action": "accept",
        "reason": "现场核实，县级即可",
        "versions": json.dumps(seen),
        "state": "open",
        "csrf_token": other.csrf,
    }
    rv = other.post("/manage/review/coarse:TWICE?format=json", data=first)
    assert rv.status_code == 200 and rv.get_json()["item"]["state"] == "accepted"
    before = _snapshot(env)
    second = {"action": "dismiss", "versions": json.dumps(seen), "state": "open"}
    rv = ed.post("/manage/review/coarse:TWICE", data={**second, "csrf_token": ed.csrf})
    assert rv.status_code == 409
    html = rv.get_data(as_text=True)
    assert 'id="mg-decided-meanwhile"' in html
    assert "other" in html and "现场核实，县级即可" in html and "已确认无误" in html
    rv = ed.post("/manage/review/coarse:TWICE?format=json", data={**second, "csrf_token": ed.csrf})
    err = rv.get_json()["error"]
    assert rv.status_code == 409 and err["decided_state"] == "accepted"
    assert err["decided_by"] == "other" and "现场核实" in err["message"]
    # a script that sends no state decides only open items
    rv = ed.post(
        "/manage/review/coarse:TWICE?format=json",
        data={"action": "dismiss", "csrf_token": ed.csrf},
    )
    assert rv.status_code == 409
    assert _snapshot(env) == before  # the accept and its reason are kept
    again = {**second, "state": "accepted", "csrf_token": ed.csrf}
    rv = ed.post("/manage/review/coarse:TWICE?format=json", data=again)
    assert rv.status_code == 200 and rv.get_json()["item"]["state"] == "dismissed"


@pytest.mark.parametrize(
    "versions",
    [
        '{"BADV": 1e400}',
        '{"BADV": 100000000000000000000000000000}',
        '{"BADV": 1.9}',
        '{"BADV": true}',
        '{"BADV": "1.0"}',
        '{"BADV": -1}',
        '{"BADV": "\u00b2"}',
        '{"BADV": "\uff11"}',
    ],
)
def test_versions_that_are_not_whole_numbers_are_a_400_not_a_500(env, versions):
    """1e400 and a huge integer used to overflow (500); 1.9 and true passed as version 1."""
    client = support.login(env["app"], "ed", PASSWORD)
    before = _snapshot(env)
    rv = client.post(
        "/manage/review/coarse:BADV?format=json",
        data={"action": "dismiss", "versions": versions, "csrf_token": client.csrf},
    )
    assert rv.status_code == 400, rv.get_data(as_text=True)[:300]
    assert rv.get_json()["error"]["field"] == "versions"
    assert _snapshot(env) == before


@pytest.mark.parametrize("sid", ["RACE", "RACE2"])
def test_a_decision_committed_between_reading_and_writing_is_not_replaced(env, monkeypatch, sid):
    """The narrow race: another decision is committed after this one read the stored
    decision and before it writes. RACE: the item had no decision (the other one is the
    first); RACE2: it had one (the other replaces it first). Either way this decision is a
    409 naming the other, and the other stays."""
    from geo import review_queue as rq

    repo, g = env["repo"], default_gazetteer()
    key = f"coarse:{sid}"
    seen = {sid: repo.get(sid).version}
    state = "open"
    if sid == "RACE2":
        rq.apply(repo, g, key, "dismiss", actor="ed", areas=[RONGSHUI], versions=seen)
        state = "dismissed"
    original = rq.hist.area_codes
    calls = {"n": 0}

    def other_decides_meanwhile(*records):
        # inside this decision's transaction, after its checks and before it writes
        calls["n"] += 1
        if calls["n"] == 1:
            rq.apply(
                repo, g, key, "accept", actor="other", areas=[RONGSHUI], reason="先处理",
                versions=seen, seen_state=state,
            )  # fmt: skip
        return original(*records)

    monkeypatch.setattr(rq.hist, "area_codes", other_decides_meanwhile)
    with pytest.raises(Conflict) as info:
        rq.apply(
            repo, g, key, "dismiss", actor="ed", areas=[RONGSHUI], versions=seen,
            seen_state=state,
        )  # fmt: skip
    assert info.value.details["decided_by"] == "other"
    assert info.value.details["decided_state"] == "accepted"
    monkeypatch.setattr(rq.hist, "area_codes", original)
    (item,) = [i for i in rq.queue(repo, [RONGSHUI], g, states=None) if i.key == key]
    assert (item.state, item.actor, item.decision_reason) == ("accepted", "other", "先处理")


def test_an_unknown_state_is_a_400_and_a_lapsed_decision_is_not_a_conflict(env):
    """``state`` must be one of the queue's states (400 otherwise, not a false "decided
    meanwhile"); a decision the user saw that lapsed since (a station changed, the item is
    open again) has nothing to protect: deciding with the current versions is applied."""
    client = support.login(env["app"], "ed", PASSWORD)
    repo = env["repo"]
    seen = {"LAPSE": repo.get("LAPSE").version}
    form = {"action": "dismiss", "versions": json.dumps(seen), "csrf_token": client.csrf}
    rv = client.post("/manage/review/coarse:LAPSE?format=json", data={**form, "state": "whatever"})
    assert rv.status_code == 400 and rv.get_json()["error"]["field"] == "state"
    rv = client.post("/manage/review/coarse:LAPSE?format=json", data={**form, "state": "open"})
    assert rv.status_code == 200 and rv.get_json()["item"]["state"] == "dismissed"
    _edit_meanwhile(env, "LAPSE", "新地址LAPSE")  # the dismissal lapses: the item is open
    fresh = {"LAPSE": repo.get("LAPSE").version}
    rv = client.post(
        "/manage/review/coarse:LAPSE?format=json",
        data={**form, "versions": json.dumps(fresh), "state": "dismissed", "reason": "核实"},
    )
    assert rv.status_code == 200 and rv.get_json()["item"]["state"] == "dismissed"
