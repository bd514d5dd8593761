"""Repository on a real SQLite file and a real PostgreSQL + PostGIS database: schema,
upsert semantics, queries, spatial questions, the revision counter, concurrent writers."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
import sqlalchemy as sa

from geo.crs import distance_m
from geo.models import Station, Status
from geo.store import StationQuery, StationRepository
from geo.store.repository import MIGRATIONS, _to_row

pytestmark = pytest.mark.both_backends


def _head() -> str:
    """The newest migration (the chain's head, whatever its number)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


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
    assert repo.init_schema() == _head() and _head() >= "0005"
    assert repo.init_schema() == _head()  # twice: nothing to do
    assert repo.schema_ready()
    engine = sa.create_engine(db_url)
    tables = sa.inspect(engine).get_table_names()
    engine.dispose()
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
        facilities=("charging", "seats"),
        liuyou={"sign": True, "rules": False},
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


def test_upgrade_from_the_first_schema_keeps_stations(db_url):
    from alembic import command
    from alembic.config import Config

    r = StationRepository.from_url(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with r.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        # a row as the first schema held it (its columns only: later ones do not exist yet)
        old = {c["name"] for c in sa.inspect(conn).get_columns("stations")}
        row = {k: v for k, v in _to_row(_station(1)).items() if k in old}
        conn.execute(sa.insert(sa.table("stations", *map(sa.column, row))), [row])
    assert r.init_schema() == _head()  # yizhan init-db upgrades in place
    assert r.count() == 1 and sa.inspect(r.engine).has_table("scenarios")
    # History begins at version 1 with one "import" row by the migration (0008_history).
    assert r.get("S1").version == 1
    (first,) = r.history("S1")
    assert (first.version, first.action, first.actor) == (1, "import", "migration")
    assert first.record["name"] == _station(1).name and first.record["lon"] == 109.01
    kept = r.get("S1")  # 六有 (issue 15 item 7): an upgraded row has no facilities, no checks
    assert kept is not None and kept.facilities == () and kept.liuyou == {}
    r.save([_station(1, facilities=("seats",), liuyou={"sign": True})])
    kept = r.get("S1")
    assert kept is not None and kept.facilities == ("seats",) and kept.liuyou == {"sign": True}
    if r.postgis:  # the generated geometry is filled for rows older than migration 0006_postgis
        with r.engine.connect() as conn:
            xy = conn.execute(sa.text("SELECT ST_X(geom), ST_Y(geom) FROM stations")).one()
        assert xy == (109.01, 24.0)
    r.engine.dispose()


GUANGXI = (104.5, 21.0, 112.0, 26.4)  # the province's bounds (some corners are abroad)
INLAND = (106.5, 22.8, 110.5, 25.5)  # well inside Guangxi, for imports (China's area checked)


def _random_stations(
    n: int, seed: int = 42, prefix: str = "R", box: tuple = GUANGXI
) -> list[Station]:
    """``n`` stations scattered over ``box`` from a seeded generator (some without
    coordinates, a third closed)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        placed = rng.random() > 0.05
        out.append(
            Station(
                id=f"{prefix}{i:05d}",
                name=f"站{i}",
                kind=rng.choice(["rest_stop", "legal_aid"]),
                lon=rng.uniform(box[0], box[2]) if placed else None,
                lat=rng.uniform(box[1], box[3]) if placed else None,
                status=Status.CLOSED if rng.random() < 0.3 else Status.OPEN,
            )
        )
    return out


def _brute(stations: list[Station], lon: float, lat: float, keep) -> list[tuple[str, float]]:
    """Every kept station with coordinates, with its haversine metres, nearest first."""
    kept = [s for s in stations if s.lon is not None and keep(s)]
    d = distance_m(lon, lat, np.array([s.lon for s in kept]), np.array([s.lat for s in kept]))
    return sorted(zip([s.id for s in kept], d.tolist(), strict=True), key=lambda t: (t[1], t[0]))


def test_nearest_and_within_match_brute_force(repo):
    """The repository's spatial questions (PostGIS KNN + exact distances on PostgreSQL, numpy
    on SQLite) against a brute-force haversine scan of the same seeded stations."""
    stations = _random_stations(2000)
    repo.save(stations)
    rng = random.Random(7)
    for _ in range(20):
        lon, lat = rng.uniform(104.0, 112.5), rng.uniform(20.5, 27.0)
        k = rng.choice([1, 5, 17])
        q = StationQuery(kinds=("rest_stop",), statuses=("open",))
        keep = lambda s: s.kind == "rest_stop" and s.status is Status.OPEN  # noqa: E731
        want = _brute(stations, lon, lat, keep)
        got = repo.nearest(lon, lat, k, q)
        assert [n.station.id for n in got] == [i for i, _ in want[:k]]
        np.testing.assert_allclose([n.distance_m for n in got], [d for _, d in want[:k]], 1e-6)
        radius_m = rng.uniform(5_000, 60_000)
        inside = repo.within(lon, lat, radius_m, q)
        assert [n.station.id for n in inside] == [i for i, d in want if d <= radius_m]
        bounded = repo.nearest(lon, lat, k, q, max_distance_m=radius_m)
        assert [n.station.id for n in bounded] == [i for i, d in want if d <= radius_m][:k]
    assert repo.nearest(108.0, 23.0, 0) == []


def test_bbox_query_matches_brute_force(repo):
    stations = _random_stations(1500, seed=3)
    repo.save(stations)
    rng = random.Random(11)
    for _ in range(10):
        x0, y0 = rng.uniform(104.5, 110), rng.uniform(21.0, 25.0)
        box = (x0, y0, x0 + rng.uniform(0.1, 2), y0 + rng.uniform(0.1, 1.5))
        want = sorted(
            s.id
            for s in stations
            if s.lon is not None and box[0] <= s.lon <= box[2] and box[1] <= s.lat <= box[3]
        )
        got, total = repo.query(StationQuery(bbox=box))
        assert [s.id for s in got] == want and total == len(want)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgis_geom_follows_lon_lat_and_uses_the_gist_index(repo):
    repo.save([_station(1), _station(2, lon=None, lat=None)])
    repo.save([_station(1, lon=110.5, lat=25.25)])  # an update moves the geometry
    with repo.engine.connect() as conn:
        rows = dict(
            conn.execute(
                sa.text("SELECT id, ST_AsText(geom) || ' ' || ST_SRID(geom) FROM stations")
            ).all()
        )
        assert rows == {"S1": "POINT(110.5 25.25) 4326", "S2": None}
        conn.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                sa.text(
                    "EXPLAIN SELECT id FROM stations ORDER BY geom <-> "
                    "ST_SetSRID(ST_MakePoint(110, 25), 4326) LIMIT 3"
                )
            )
        )
    assert "ix_stations_geom" in plan


def test_two_imports_at_once_lose_nothing(repo, tmp_path):
    """Two threads import different registry files at the same moment, ten times each:
    every station arrives and every import bumps the revision exactly once."""
    from geo.records import import_registry

    files = {}
    for who in ("A", "B"):
        for part in range(10):
            rows = _random_stations(
                40, seed=100 * ord(who) + part, box=INLAND, prefix=f"{who}{part}-"
            )
            path = tmp_path / f"{who}{part}.csv"
            path.write_text(
                "编号,名称,类型,经度,纬度\n"
                + "".join(
                    f"{s.id},{s.name}{s.id},工会爱心驿站,{s.lon or ''},{s.lat or ''}\n"
                    for s in rows
                    if s.lon is not None
                ),
                encoding="utf-8",
            )
            files.setdefault(who, []).append(path)
    expected = sum(
        len(p.read_text(encoding="utf-8").splitlines()) - 1 for v in files.values() for p in v
    )
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    imported: list[str] = []

    def run(paths):
        try:
            for path in paths:
                barrier.wait(timeout=60)
                report = import_registry(repo, path, duplicate_radius_m=0.0)
                assert report.committed and not report.updated
                imported.extend(report.imported)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(files[w],)) for w in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    assert len(imported) == expected
    assert repo.count() == len(set(imported)) == len(imported)
    assert repo.revision() == 20


def test_nearest_is_one_statement_and_filters_hold(repo, backend):
    """PostGIS answers a KNN question with one statement (no BEGIN/ROLLBACK, no second query);
    kinds, services and located-only filters hold; far from the registry (a high latitude,
    where planar-degree order and great-circle order differ most) the answer is still exact."""
    stations = _random_stations(800, seed=5)
    stations += [
        _station(9001, lon=20.0, lat=70.0, kind="legal_aid"),
        _station(9002, lon=20.9, lat=70.0, kind="legal_aid"),  # 34 km east
        _station(9003, lon=20.0, lat=70.35, kind="legal_aid"),  # 39 km north
    ]
    repo.save(stations)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(repo.engine, "before_cursor_execute", record)
    try:
        got = repo.nearest(20.0, 70.0001, 2, StationQuery(kinds=("legal_aid",)))
    finally:
        sa.event.remove(repo.engine, "before_cursor_execute", record)
    assert [n.station.id for n in got] == ["S9001", "S9002"]
    if backend == "postgresql":
        assert len(statements) == 1, statements
    q = StationQuery(kinds=("rest_stop",), services=("drinking_water",), located=True)
    keep = lambda s: s.kind == "rest_stop" and "drinking_water" in s.services  # noqa: E731
    want = _brute(stations, 108.0, 23.5, keep)
    assert [n.station.id for n in repo.nearest(108.0, 23.5, 7, q)] == [i for i, _ in want[:7]]
    found, total = repo.query(q)
    assert total == len(found) and all(s.lon is not None for s in found)


def test_bbox_across_the_antimeridian(repo):
    """A bbox whose west edge is east of its east edge is the two boxes either side of 180°
    (as /api/stations reads it), on both backends."""
    repo.save(
        [
            _station(1, lon=179.5, lat=-17.0),
            _station(2, lon=-179.5, lat=-17.0),
            _station(3, lon=0.0, lat=-17.0),
            _station(4, lon=179.5, lat=10.0),
        ]
    )
    found, total = repo.query(StationQuery(bbox=(179.0, -18.0, -179.0, -16.0)))
    assert [s.id for s in found] == ["S1", "S2"] and total == 2


def test_nearest_equals_an_independent_geodesic_ranking(repo):
    """``nearest`` (PostGIS's one statement on PostgreSQL) against a brute-force ranking by
    pyproj's geodesic on a sphere of the repository's radius (an implementation independent
    of geo.crs and of PostGIS), on seeded random stations in Guangxi and far north (lat
    60-75°, where planar-degree order and great-circle order differ most)."""
    from pyproj import Geod

    from geo.crs import EARTH_RADIUS_M

    rng = random.Random(42)
    areas = [(104.5, 21.0, 112.0, 26.4), (5.0, 60.0, 30.0, 75.0)]
    stations = [
        Station(
            id=f"G{i:05d}",
            name=f"站{i}",
            kind="rest_stop",
            lon=rng.uniform(box[0], box[2]),
            lat=rng.uniform(box[1], box[3]),
            status=Status.CLOSED if rng.random() < 0.25 else Status.OPEN,
        )
        for i, box in enumerate(rng.choice(areas) for _ in range(3000))
    ]
    repo.save(stations)
    geod = Geod(a=EARTH_RADIUS_M, f=0.0)
    for _ in range(30):
        box = rng.choice(areas)
        lon, lat = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        k = rng.choice([1, 3, 10, 25])
        only_open = rng.random() < 0.5
        kept = [s for s in stations if not only_open or s.status is Status.OPEN]
        _, _, d = geod.inv(
            [lon] * len(kept), [lat] * len(kept), [s.lon for s in kept], [s.lat for s in kept]
        )
        want = sorted(zip(d, [s.id for s in kept], strict=True))[:k]
        q = StationQuery(statuses=("open",)) if only_open else StationQuery()
        got = repo.nearest(lon, lat, k, q)
        assert [n.station.id for n in got] == [i for _, i in want]
        np.testing.assert_allclose([n.distance_m for n in got], [m for m, _ in want], rtol=1e-7)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgis_nearest_is_prepared_once_and_planned_for_each_point(db_url):
    """The KNN statement is parsed once per connection (a server-side prepared statement) and
    planned for each run's values (never a generic plan); a URL's own ``options`` are kept."""
    r = StationRepository.from_url(db_url + "?options=-cstatement_timeout%3D61000")
    try:
        r.init_schema()
        r.save(_random_stations(300, seed=9))
        for i in range(7):  # PostgreSQL's automatic mode would switch to generic after 5
            assert len(r.nearest(107.0 + i / 3, 23.0, 4)) == 4
        with r.engine.connect() as conn:
            plans = conn.execute(
                sa.text(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE statement LIKE '%knn_bound%'"
                )
            ).all()
            settings = [
                conn.execute(sa.text(f"SHOW {name}")).scalar_one()
                for name in ("plan_cache_mode", "statement_timeout")
            ]
    finally:
        r.engine.dispose()
    assert plans == [(0, 7)]
    assert settings == ["force_custom_plan", "61s"]
