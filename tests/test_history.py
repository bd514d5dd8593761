"""Station history and audit (issue 15 item 6): one history row per stored change (who, when,
what, why), atomic with the change; the version check that refuses an outdated save with what
changed since; revert; the audit of an area and a period; deleted stations gone from every
public read. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from geo.errors import Conflict, NotFound
from geo.models import Station, Status
from geo.store import StationRepository
from geo.store.schema import station_versions

pytestmark = pytest.mark.both_backends

RONGSHUI, SANJIANG = "450225", "450226"  # two counties of 柳州 (450200)


def _station(i: int, county: str = RONGSHUI, **kw) -> Station:
    base = dict(
        id=f"H{i}",
        name=f"测试驿站{i}",
        kind="rest_stop",
        lon=109.2 + i * 0.01,
        lat=25.0,
        province_code="450000",
        prefecture_code="450200",
        county_code=county,
        township_code=f"{county}101",
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


def _history_count(repo) -> int:
    with repo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(station_versions)).scalar()


def test_every_action_writes_one_history_row_with_who_what_why(repo):
    s = _station(1)
    repo.save([s], actor="ann", source="web", reason="新建")
    repo.save([s], actor="ann", source="web")  # unchanged: nothing written
    repo.save([dataclasses.replace(s, phone="0772-7654321")], actor="bo", source="upload")
    repo.save([dataclasses.replace(s, phone="0772-7654321", status=Status.CLOSED)], actor="cy")
    repo.save([dataclasses.replace(s, phone="0772-7654321")], actor="cy", reason="重新开放")
    assert repo.delete(["H1"], actor="dee", source="web", reason="撤销") == 1
    versions = repo.history("H1")
    assert [(v.version, v.action, v.actor) for v in versions] == [
        (1, "create", "ann"),
        (2, "edit", "bo"),
        (3, "close", "cy"),
        (4, "reopen", "cy"),
        (5, "delete", "dee"),
    ]
    assert versions[0].reason == "新建" and versions[0].source == "web"
    assert versions[0].changes["name"] == [None, "测试驿站1"]
    assert versions[1].changes == {"phone": ["0772-1234567", "0772-7654321"]}
    assert versions[2].changes == {"status": ["open", "closed"]}
    assert versions[4].changes == {"status": ["open", "deleted"]}
    assert versions[4].record["phone"] == "0772-7654321"  # the last record is kept
    assert versions[1].record["name"] == "测试驿站1" and "version" not in versions[1].record
    assert all(v.at.tzinfo is not None for v in versions)
    assert repo.get("H1") is None and repo.count() == 0
    assert repo.version("H1", 2).changes == versions[1].changes
    with pytest.raises(NotFound):
        repo.version("H1", 9)


def test_library_callers_that_do_not_say_who_are_recorded_as_unknown(repo):
    repo.save([_station(1)])
    (v,) = repo.history("H1")
    assert (v.actor, v.source, v.reason) == ("unknown", "unknown", "")


def test_version_starts_at_one_and_counts_changes(repo):
    repo.save([_station(1), _station(2)])
    assert repo.get("H1").version == 1
    repo.save([_station(1, name="改名"), _station(2)])
    assert (repo.get("H1").version, repo.get("H2").version) == (2, 1)


def test_a_failed_save_writes_neither_stations_nor_history(repo):
    repo.save([_station(1)], actor="ann")
    bad = _station(3, name=None)  # NOT NULL: the database refuses the whole save
    with pytest.raises(sa.exc.IntegrityError):
        repo.save([_station(1, name="改名"), _station(2), bad], actor="bo")
    assert repo.count() == 1 and repo.get("H1").name == "测试驿站1"
    assert repo.get("H1").version == 1 and _history_count(repo) == 1


def test_an_import_that_fails_writes_nothing(repo, tmp_path, monkeypatch):
    from geo.records import import_registry
    from geo.store import history

    path = tmp_path / "r.csv"
    path.write_text("编号,名称,类型,经度,纬度\nA1,甲站,驿站,109.41,24.33\n", encoding="utf-8")

    def broken(*args, **kw):
        raise RuntimeError("history write failed")

    # The history row is computed after the stations are written: a failure there must take
    # the stations back with it.
    monkeypatch.setattr(history, "record_of", broken)
    with pytest.raises(RuntimeError):
        import_registry(repo, path, actor="cli:ann", source="cli")
    assert repo.count() == 0 and _history_count(repo) == 0 and repo.revision() == 0


def test_a_save_based_on_an_outdated_version_is_refused_with_what_changed(repo):
    repo.save([_station(1)], actor="ann")
    seen = repo.get("H1")  # both editors open version 1
    repo.save(
        [dataclasses.replace(seen, phone="110")],
        actor="bo",
        source="web",
        reason="电话变更",
        expected_versions={"H1": seen.version},
    )
    with pytest.raises(Conflict) as caught:
        repo.save(
            [dataclasses.replace(seen, name="另一个名字")],
            actor="cy",
            source="web",
            expected_versions={"H1": seen.version},
        )
    err = caught.value
    assert err.status == 409
    assert err.details["expected_version"] == 1 and err.details["current_version"] == 2
    (change,) = err.details["changes"]
    assert change["fields"] == ["phone"] and change["actor"] == "bo"
    assert change["reason"] == "电话变更" and change["changes"]["phone"] == ["0772-1234567", "110"]
    assert datetime.fromisoformat(change["at"]) <= datetime.now(UTC)
    assert err.to_dict()["error"]["code"] == "conflict"
    stored = repo.get("H1")
    assert (stored.name, stored.phone, stored.version) == ("测试驿站1", "110", 2)  # bo's kept
    assert len(repo.history("H1")) == 2


def test_creating_a_station_that_exists_is_a_conflict(repo):
    repo.save([_station(1)], actor="ann")
    with pytest.raises(Conflict):
        repo.save([_station(1, name="重复")], actor="bo", expected_versions={"H1": 0})
    assert repo.get("H1").name == "测试驿站1"


def test_a_delete_based_on_an_outdated_version_is_refused(repo):
    repo.save([_station(1)])
    repo.save([_station(1, name="改名")])
    with pytest.raises(Conflict):
        repo.delete(["H1"], actor="ann", expected_versions={"H1": 1})
    assert repo.get("H1") is not None


def test_concurrent_saves_of_one_station_never_lose_an_update(repo, db_url):
    """Two connections (threads, engines of their own) save the same version at once:
    exactly one wins, the other gets Conflict, every round."""
    rng = random.Random(42)
    repo.save([_station(1)], actor="seed")
    other = StationRepository.from_url(db_url)
    try:
        for round_ in range(6):
            base = repo.get("H1")
            barrier = threading.Barrier(2)
            outcome: dict[str, object] = {}

            def edit(r, who, base=base, barrier=barrier, outcome=outcome, round_=round_):
                change = dataclasses.replace(base, phone=f"{who}-{round_}-{rng.random():.6f}")
                barrier.wait()
                try:
                    r.save([change], actor=who, expected_versions={"H1": base.version})
                    outcome[who] = "saved"
                except Conflict as exc:
                    outcome[who] = exc

            threads = [
                threading.Thread(target=edit, args=(repo, "ann")),
                threading.Thread(target=edit, args=(other, "bo")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            winners = [w for w, o in outcome.items() if o == "saved"]
            losers = [o for o in outcome.values() if isinstance(o, Conflict)]
            assert len(winners) == 1 and len(losers) == 1, outcome
            stored = repo.get("H1")
            assert stored.version == base.version + 1
            assert stored.phone.startswith(winners[0])
            assert losers[0].details["changes"][0]["actor"] == winners[0]
        assert [v.version for v in repo.history("H1")] == list(range(1, 8))
    finally:
        other.engine.dispose()


def test_revert_round_trip(repo):
    s = _station(1)
    repo.save([s], actor="ann")
    repo.save([dataclasses.replace(s, lon=109.5, lat=25.5, phone="999")], actor="bo")
    done = repo.revert("H1", 1, actor="cy", reason="位置改错了", expected_version=2)
    assert done is not None and (done.version, done.action) == (3, "revert")
    assert (done.source, done.actor, done.reason) == ("revert", "cy", "位置改错了")
    assert done.changes["lon"] == [109.5, s.lon] and done.changes["phone"] == ["999", s.phone]
    back = repo.get("H1")
    assert (back.lon, back.lat, back.phone, back.version) == (s.lon, s.lat, s.phone, 3)
    assert back == dataclasses.replace(s, updated_at=back.updated_at)
    # Reverting to what is already there writes nothing.
    assert repo.revert("H1", 1, actor="cy", reason="again") is None
    assert len(repo.history("H1")) == 3
    # An outdated revert is refused and writes nothing.
    with pytest.raises(Conflict):
        repo.revert("H1", 2, actor="dee", reason="x", expected_version=2)
    assert repo.get("H1").version == 3
    with pytest.raises(NotFound):
        repo.revert("H1", 42, actor="dee", reason="x")


def test_a_deleted_station_is_listed_and_revert_brings_it_back(repo):
    repo.save([_station(1), _station(2, SANJIANG)], actor="ann")
    repo.delete(["H1", "H2"], actor="bo", reason="撤站")
    assert [v.station_id for v in repo.deleted(RONGSHUI)] == ["H1"]
    assert [v.station_id for v in repo.deleted("450200")] == ["H1", "H2"]
    done = repo.revert("H1", 1, actor="cy", reason="误删")
    assert (done.version, done.action, done.changes) == (
        3,
        "revert",
        {"status": ["deleted", "open"]},
    )
    assert repo.get("H1").version == 3 and repo.count() == 1
    assert [v.station_id for v in repo.deleted()] == ["H2"]
    # A deleted id imported again continues its history.
    repo.save([_station(2, SANJIANG)], actor="cli:x", source="cli")
    assert [(v.version, v.action) for v in repo.history("H2")] == [
        (1, "create"),
        (2, "delete"),
        (3, "create"),
    ]


def test_audit_of_an_area_and_a_period(repo):
    repo.save([_station(1), _station(2, SANJIANG)], actor="ann", source="upload")
    t_mid = datetime.now(UTC)
    repo.save([_station(1, name="改名")], actor="bo", source="web", reason="更正名称")
    # H2 moves to 融水: the audit of both counties shows the move.
    repo.save([_station(2, RONGSHUI)], actor="cy", source="web")
    rong = repo.audit(RONGSHUI)
    assert [(v.station_id, v.version) for v in rong] == [("H1", 1), ("H1", 2), ("H2", 2)]
    assert [(v.station_id, v.version) for v in repo.audit(SANJIANG)] == [("H2", 1), ("H2", 2)]
    assert len(repo.audit("450200")) == len(repo.audit("450000")) == len(repo.audit()) == 4
    assert [v.station_id for v in repo.audit(f"{RONGSHUI}101")] == ["H1", "H1", "H2"]
    assert repo.audit("4502") == [] and repo.audit("%") == []  # whole codes only
    later = repo.audit(since=t_mid)
    assert [(v.station_id, v.version) for v in later] == [("H1", 2), ("H2", 2)]
    assert repo.audit(until=t_mid) == repo.audit()[:2]
    today = datetime.now(UTC).date()
    assert len(repo.audit(RONGSHUI, since=today - timedelta(days=1), until=today + timedelta(1)))
    assert repo.audit(since=today + timedelta(days=2)) == []


def test_a_deleted_station_is_gone_from_every_public_read(app, client, tmp_path):
    """Deletion removes the row from ``stations`` (history keeps the record): API, nearest
    (the index), OGC, the station page, the embed's data (the API) and exports hide it."""
    from geo.records import export_stations
    from webapp.services import services

    repo = services(app).repo
    keep, gone = _station(1, name="留下的驿站"), _station(2, name="删除的驿站")
    repo.save([keep, gone], actor="ann", source="web")
    repo.delete(["H2"], actor="ann", source="web", reason="撤站")
    assert repo.history("H2")[-1].action == "delete"

    def ids(features):
        return {f["id"] for f in features}

    listed = client.get("/api/stations").get_json()["features"]
    assert ids(listed) == {"H1"}
    assert client.get("/api/stations/H2").status_code == 404
    near = client.get(f"/api/nearest?lon={gone.lon}&lat={gone.lat}&k=5").get_json()
    assert "H2" not in str(near) and "H1" in str(near)
    items = client.get("/ogc/collections/stations/items?f=json").get_json()["features"]
    assert ids(items) == {"H1"}
    assert client.get("/ogc/collections/stations/items/H2?f=json").status_code == 404
    assert client.get("/stations/H2").status_code == 404
    assert client.get("/stations/H1").status_code == 200
    embed = client.get("/embed")
    assert embed.status_code == 200 and "删除的驿站" not in embed.get_data(as_text=True)
    out = export_stations(repo.query()[0], tmp_path / "all.csv")
    text = out.read_text(encoding="utf-8-sig")
    assert "留下的驿站" in text and "删除的驿站" not in text
    assert [s.id for s in repo.all()] == ["H1"]
