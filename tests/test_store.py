"""Repository on a real SQLite file: schema, upsert semantics, queries, revision counter."""

from __future__ import annotations

import sqlalchemy as sa

from geo.models import Station, Status
from geo.store import StationQuery, StationRepository


def _station(i: int, **kw) -> Station:
    base = dict(
        id=f"S{i}",
        name=f"站{i}",
        kind="rest_stop",
        lon=109.0 + i / 100,
        lat=24.0,
        services=("drinking_water",),
        county_code="450203",
    )
    return Station(**{**base, **kw})


def test_init_schema_is_idempotent_and_versioned(repo, db_url):
    assert repo.init_schema() == "0005_shared_state"
    assert repo.schema_ready()
    tables = sa.inspect(sa.create_engine(db_url)).get_table_names()
    assert {"stations", "yizhan_meta", "scenarios", "alembic_version"} <= set(tables)


def test_save_insert_update_unchanged(repo):
    r1 = repo.save([_station(1), _station(2)])
    assert r1.inserted == ["S1", "S2"] and repo.revision() == 1
    r2 = repo.save([_station(1), _station(2, name="改名")])
    assert r2.unchanged == ["S1"] and r2.updated == ["S2"] and repo.revision() == 2
    assert repo.get("S2").name == "改名"
    r3 = repo.save([_station(1)])
    assert r3.unchanged == ["S1"] and repo.revision() == 2  # nothing written, no bump


def test_round_trip_every_field(repo):
    s = _station(
        7,
        name_en="Stop 7",
        address="柳州市",
        province_code="450000",
        province="广西壮族自治区",
        prefecture_code="450200",
        prefecture="柳州市",
        county="鱼峰区",
        township_code="450203001000",
        township="某街道",
        village_code="450203001001",
        village="某社区",
        orig_lon=109.1,
        orig_lat=24.1,
        orig_crs="gcj02",
        hours="24小时",
        phone="12351",
        union="鱼峰区总工会",
        status=Status.PLANNED,
        demo=True,
        source="测试",
        notes="备注",
        extra={"自定义": "值"},
        services=("drinking_water", "toilet"),
    )
    repo.save([s])
    got = repo.get("S7")
    assert got.updated_at is not None and got.updated_at.tzinfo is not None
    s.updated_at = got.updated_at
    assert got == s


def test_query_filters_and_paging(repo):
    repo.save(
        [
            _station(
                i,
                kind="legal_aid" if i % 3 == 0 else "rest_stop",
                services=("toilet",) if i % 2 else ("drinking_water", "toilet_paper"),
            )
            for i in range(20)
        ]
    )
    legal, n = repo.query(StationQuery(kinds=("legal_aid",)))
    assert n == 7 and all(s.kind == "legal_aid" for s in legal)
    # "toilet" must not match the (hypothetical) code "toilet_paper"
    _, n = repo.query(StationQuery(services=("toilet",)))
    assert n == 10
    page, total = repo.query(StationQuery(), limit=5, offset=15)
    assert total == 20 and [s.id for s in page] == sorted(f"S{i}" for i in range(20))[15:]
    boxed, _ = repo.query(StationQuery(bbox=(109.0, 23.9, 109.045, 24.1)))
    assert {s.id for s in boxed} == {"S0", "S1", "S2", "S3", "S4"}


def test_delete_bumps_revision(repo):
    repo.save([_station(1), _station(2)])
    assert repo.delete(["S1", "nope"]) == 1 and repo.count() == 1 and repo.revision() == 2


def test_any_sqlalchemy_url_works(tmp_path):
    other = StationRepository.from_url(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'x.db'}")
    other.init_schema()
    other.save([_station(1)])
    assert other.count() == 1


def test_upgrade_from_the_first_schema_keeps_stations(tmp_path):
    from alembic import command
    from alembic.config import Config

    from geo.store.repository import MIGRATIONS

    r = StationRepository.from_url(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with r.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    r.save([_station(1)])
    assert r.init_schema() == "0005_shared_state"  # yizhan init-db upgrades in place
    assert r.count() == 1 and sa.inspect(r.engine).has_table("scenarios")
