"""Approval of editors' changes (issue 15 item 5), the store: proposals wait without touching
the station, a reviewer of the area approves (written with the history in the same
transaction) or rejects with a comment; self-approval and out-of-area reviewers refused;
concurrent approvals apply once; a conflicting direct change refuses the approval with what
changed; a failing save leaves the change pending and no history. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import random
import threading
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from geo.errors import Conflict, Forbidden, ValidationError
from geo.models import Station, Status
from geo.settings import Settings
from geo.store import StationRepository
from geo.store.changes import ChangeStore, needs_approval
from geo.store.schema import station_changes, station_versions

pytestmark = pytest.mark.both_backends

RONGSHUI, LIUJIANG, LIUZHOU = "450225", "450206", "450200"
ED = SimpleNamespace(name="ed", role="editor", areas=(RONGSHUI,))
REV = SimpleNamespace(name="rev", role="reviewer", areas=(LIUZHOU,))
REV2 = SimpleNamespace(name="rev2", role="reviewer", areas=(RONGSHUI,))
LJ_REV = SimpleNamespace(name="ljrev", role="reviewer", areas=(LIUJIANG,))


def _station(i: int, county: str = RONGSHUI, **kw) -> Station:
    base = dict(
        id=f"C{i}",
        name=f"审批驿站{i}",
        kind="rest_stop",
        lon=109.2 + i * 0.01,
        lat=25.0,
        province_code="450000",
        prefecture_code=LIUZHOU,
        county_code=county,
        phone="0772-1234567",
    )
    base.update(kw)
    return Station(**base)


@pytest.fixture
def repo(db_url):
    r = StationRepository.from_url(db_url)
    r.init_schema()
    yield r
    r.engine.dispose()


@pytest.fixture
def store(repo):
    return ChangeStore(repo)


def _count(repo, table) -> int:
    with repo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_setting_defaults_on_and_only_editors_wait():
    assert Settings.from_env({}).approval is True
    assert Settings.from_env({"YIZHAN_APPROVAL": "off"}).approval is False
    assert needs_approval(ED, True) and not needs_approval(ED, False)
    assert not needs_approval(REV, True)
    assert not needs_approval(SimpleNamespace(name="a", role="admin", areas=()), True)


def test_edit_waits_then_approval_publishes_with_both_steps_in_history(repo, store):
    s = _station(1)
    repo.save([s], actor="cli:x", source="cli")
    moved = dataclasses.replace(s, lon=109.25, lat=25.05, phone="0772-7654321")
    change = store.propose("edit", moved, base_version=1, author="ed", reason="现场核实")
    assert change.state == "pending" and change.moved
    assert change.changes["phone"] == ["0772-1234567", "0772-7654321"]
    assert repo.get("C1").lon == pytest.approx(109.21)  # untouched while pending
    assert len(repo.history("C1")) == 1
    assert [c.id for c in store.pending(RONGSHUI)] == [change.id]
    assert [c.id for c in store.pending([LIUZHOU])] == [change.id]
    assert store.pending(LIUJIANG) == []
    assert store.pending_counts([LIUZHOU]) == [{"county_code": RONGSHUI, "pending": 1}]

    done = store.approve(change.id, REV, "位置已核对")
    assert done.state == "approved" and done.reviewer == "rev" and done.applied_version == 2
    got = repo.get("C1")
    assert (got.lon, got.lat, got.phone) == (109.25, 25.05, "0772-7654321")
    last = repo.history("C1")[-1]
    assert (last.version, last.actor, last.source) == (2, "ed", "review")
    assert "现场核实" in last.reason and "rev" in last.reason and "位置已核对" in last.reason
    kinds = [(e["kind"], e.get("change_id")) for e in store.timeline("C1")]
    assert kinds == [
        ("version", None),
        ("proposed", change.id),
        ("approved", change.id),
        ("version", change.id),
    ]
    assert store.pending() == [] and store.mine("ed")[0].state == "approved"


@pytest.mark.parametrize("action", ["create", "close", "reopen", "delete"])
def test_every_action_round_trips(repo, store, action):
    s = _station(2, status=Status.CLOSED if action == "reopen" else Status.OPEN)
    if action != "create":
        repo.save([s])
    proposed = {
        "create": s,
        "close": dataclasses.replace(s, status=Status.CLOSED),
        "reopen": dataclasses.replace(s, status=Status.OPEN),
        "delete": None,
    }[action]
    base = 0 if action == "create" else 1
    change = store.propose(action, proposed, station_id="C2", base_version=base, author="ed")
    before = repo.get("C2")
    assert (before is None) == (action == "create")
    store.approve(change.id, REV)
    after = repo.get("C2")
    if action == "delete":
        assert after is None and repo.history("C2")[-1].action == "delete"
    else:
        assert after is not None and repo.history("C2")[-1].action == action
        assert after.status == (Status.CLOSED if action == "close" else Status.OPEN)


def test_reject_leaves_station_untouched_and_author_sees_comment(repo, store):
    repo.save([_station(3)])
    change = store.propose(
        "edit", _station(3, name="改名"), base_version=1, author="ed", reason="名称有误"
    )
    with pytest.raises(ValidationError):
        store.reject(change.id, REV, "  ")  # a rejection needs a comment
    done = store.reject(change.id, REV, "名称以牌匾为准")
    assert done.state == "rejected"
    assert repo.get("C3").name == "审批驿站3" and len(repo.history("C3")) == 1
    mine = store.mine("ed")
    assert mine[0].comment == "名称以牌匾为准" and mine[0].reviewer == "rev"
    with pytest.raises(Conflict):  # decided once
        store.approve(change.id, REV)


def test_self_approval_and_out_of_area_refused_and_nothing_written(repo, store):
    repo.save([_station(4)])
    change = store.propose("edit", _station(4, phone="1"), base_version=1, author="rev")
    history, rows = _count(repo, station_versions), _count(repo, station_changes)
    for who in (REV, LJ_REV, ED):  # own change; another county's reviewer; an editor
        with pytest.raises(Forbidden):
            store.approve(change.id, who)
        with pytest.raises(Forbidden):
            store.reject(change.id, who, "no")
    assert store.get(change.id).state == "pending"
    assert _count(repo, station_versions) == history and _count(repo, station_changes) == rows
    assert repo.get("C4").phone == "0772-1234567"
    assert store.approve(change.id, REV2).state == "approved"  # another reviewer may


def test_moving_a_station_out_needs_a_reviewer_of_both_areas(repo, store):
    repo.save([_station(5)])
    moved = _station(5, county=LIUJIANG)
    change = store.propose("edit", moved, base_version=1, author="ed")
    with pytest.raises(Forbidden):
        store.approve(change.id, LJ_REV)  # covers the new county, not the station
    with pytest.raises(Forbidden):
        store.approve(change.id, REV2)  # covers the station, not the new county
    assert store.approve(change.id, REV).state == "approved"  # the prefecture covers both


def test_stale_base_refused_at_proposal_and_at_approval_with_what_changed(repo, store):
    repo.save([_station(6)])
    change = store.propose("edit", _station(6, name="甲"), base_version=1, author="ed")
    repo.save([_station(6, phone="0772-0000000")], actor="ann", source="web", reason="直接修改")
    with pytest.raises(Conflict) as err:
        store.approve(change.id, REV, "ok")
    later = err.value.details["changes"]
    assert later[0]["actor"] == "ann" and later[0]["fields"] == ["phone"]
    assert store.get(change.id).state == "pending"  # stays pending: reject or re-propose
    assert repo.get("C6").name == "审批驿站6" and len(repo.history("C6")) == 2
    with pytest.raises(Conflict):
        store.propose("edit", _station(6, name="乙"), base_version=1, author="ed")
    again = store.propose(
        "edit", _station(6, name="乙", phone="0772-0000000"), base_version=2, author="ed"
    )
    assert store.get(change.id).state == "superseded"  # the author's newer proposal
    assert store.approve(again.id, REV).state == "approved" and repo.get("C6").name == "乙"


def test_create_with_an_id_taken_meanwhile_is_refused(repo, store):
    change = store.propose("create", _station(7), base_version=0, author="ed")
    repo.save([_station(7, name="别人先建")], actor="ann")
    with pytest.raises(Conflict):
        store.approve(change.id, REV)
    assert repo.get("C7").name == "别人先建" and store.get(change.id).state == "pending"


def test_failing_save_mid_approval_leaves_it_pending_without_history(repo, store, monkeypatch):
    repo.save([_station(8)])
    change = store.propose("edit", _station(8, name="新名"), base_version=1, author="ed")
    history = _count(repo, station_versions)
    real = repo._bump

    def boom(conn):  # the save has written the row and its history row by now
        real(conn)
        raise RuntimeError("disk full")

    monkeypatch.setattr(repo, "_bump", boom)
    with pytest.raises(RuntimeError):
        store.approve(change.id, REV, "ok")
    monkeypatch.undo()
    got = store.get(change.id)
    assert got.state == "pending" and got.reviewer is None and got.decided_at is None
    assert _count(repo, station_versions) == history and repo.get("C8").name == "审批驿站8"
    assert store.approve(change.id, REV).state == "approved"


def test_concurrent_approvals_apply_exactly_once(db_url, repo, store):
    rng = random.Random(42)
    repo.save([_station(9)])
    change = store.propose(
        "edit", _station(9, phone=f"0772-{rng.randrange(10**7):07d}"), base_version=1, author="ed"
    )
    reviewers = [REV, REV2, SimpleNamespace(name="rev3", role="reviewer", areas=(RONGSHUI,))]
    barrier = threading.Barrier(len(reviewers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(reviewer):
        own = StationRepository.from_url(db_url)  # one engine per thread, like processes
        try:
            barrier.wait()
            ChangeStore(own).approve(change.id, reviewer, f"by {reviewer.name}")
            result = "applied"
        except Conflict:
            result = "refused"
        finally:
            own.engine.dispose()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=approve, args=(r,)) for r in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["applied", "refused", "refused"]
    assert [v.version for v in repo.history("C9")] == [1, 2]
    assert store.get(change.id).state == "approved"


def test_unchanged_or_unknown_proposals_refused(repo, store):
    repo.save([_station(10)])
    with pytest.raises(ValidationError):
        store.propose("edit", _station(10), base_version=1, author="ed")
    with pytest.raises(ValidationError):
        store.propose("move", _station(10, name="x"), base_version=1, author="ed")
    with pytest.raises(ValidationError):
        store.propose("edit", None, station_id="C10", base_version=1, author="ed")
    assert _count(repo, station_changes) == 0


def test_withdraw_by_the_author_only(repo, store):
    repo.save([_station(11)])
    change = store.propose("edit", _station(11, name="x"), base_version=1, author="ed")
    with pytest.raises(Forbidden):
        store.withdraw(change.id, "rev")
    assert store.withdraw(change.id, "ed").state == "withdrawn"
    with pytest.raises(Conflict):
        store.approve(change.id, REV)


def test_migration_0010_up_and_down(repo, store):
    from alembic import command
    from alembic.config import Config

    from geo.store.repository import MIGRATIONS

    repo.save([_station(12)])
    store.propose("edit", _station(12, name="x"), base_version=1, author="ed")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with repo.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009_liuyou")
    assert not sa.inspect(repo.engine).has_table("station_changes")
    assert repo.get("C12").name == "审批驿站12"
    repo.init_schema()
    assert sa.inspect(repo.engine).has_table("station_changes")
    assert store.pending() == []
