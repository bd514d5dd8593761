"""Demand signals from the public map (issue 15 item 8): counts per H3 cell and day, nothing
personal stored, atomic across processes, the off switch, suppression, signals as plan demand
(checked against a brute force), station view/navigate counts, the planner's layer and CLI."""

from __future__ import annotations

import itertools
import math
import random
import threading
from datetime import date, datetime

import h3
import pytest
import sqlalchemy as sa

import support
from geo.demand import signals
from geo.records import import_registry
from geo.store import StationRepository
from geo.store.users import UserRepository
from webapp.services import services

pytestmark = pytest.mark.both_backends

#: A point in 融水 (450225), > 1 km from every test station; a client address to look for.
LON, LAT = 109.21357, 25.11793
CLIENT_IP = "203.0.113.77"
PASSWORD = "correct horse battery"
# 2026-12-06 10:00 China time, as a Unix time
T0 = datetime.fromisoformat("2026-12-06T10:00:00+08:00").timestamp()


def _app(db_url, **env):
    app = support.make_app(db_url, env, planner_dir="", tile_url="", login_rate_per_minute=1000)
    repo = services(app).repo
    import_registry(repo, support.DATA / "registry_zh.csv")
    return app


@pytest.fixture
def web(db_url):
    app = _app(db_url)
    yield app
    services(app).close()


def _all_rows(engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for name in sa.inspect(engine).get_table_names():
            out[name] = [tuple(r) for r in conn.execute(sa.text(f'SELECT * FROM "{name}"'))]
    return out


def _rows(engine, table) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key))]


# -- nothing personal is stored ------------------------------------------------------------


def test_no_ip_and_no_exact_position_stored_anywhere(web):
    svc = services(web)
    client = web.test_client()
    environ = {"REMOTE_ADDR": CLIENT_IP}
    for origin in ("search", "locate"):
        rv = client.get(
            "/api/nearest",
            query_string={"lon": LON, "lat": LAT, "mode": "car", "origin": origin},
            environ_base=environ,
        )
        assert rv.status_code == 200, rv.data
    assert client.get("/stations/T-001", environ_base=environ).status_code == 200
    assert client.post("/signals/navigate/T-001", environ_base=environ).status_code == 204
    svc.signals.flush()
    tables = _all_rows(svc.repo.engine)
    assert tables["demand_signals"] and tables["station_signals"]
    text = repr(tables)
    for needle in (CLIENT_IP, "203.0.113", f"{LON}", f"{LAT}", "109.2135", "25.1179"):
        assert needle not in text, needle
    registry = {"stations", "station_versions"}  # the registered stations' own positions
    for name, rows in tables.items():
        if name in registry:
            continue
        for row in rows:
            for value in row:
                if isinstance(value, float):
                    assert abs(value - LON) > 0.01 and abs(value - LAT) > 0.01, (name, row)
    cell = h3.latlng_to_cell(LAT, LON, 7)
    assert {(r[1], r[2], r[3]) for r in tables["demand_signals"]} == {
        (cell, "search_served", 1),
        (cell, "locate_served", 1),
    } or {(r[1], r[3]) for r in tables["demand_signals"]} == {(cell, 1)}


def test_nearest_without_origin_records_nothing(web):
    client = web.test_client()
    rv = client.get("/api/nearest", query_string={"lon": LON, "lat": LAT})
    assert rv.status_code == 200
    assert services(web).signals.pending == 0
    rv = client.get("/api/nearest", query_string={"lon": LON, "lat": LAT, "origin": "x"})
    assert rv.status_code == 400 and b"origin" in rv.data


def test_served_and_unserved_are_told_apart(web):
    """A point 2 h by car from every station counts as unserved; one next to a station as
    served (the answer's own ``served``)."""
    client = web.test_client()
    far = {"lon": 100.0, "lat": 31.0, "mode": "car", "origin": "locate"}
    near = {"lon": 109.4213, "lat": 24.3080, "mode": "car", "origin": "search"}
    assert client.get("/api/nearest", query_string=far).get_json()["served"] is False
    assert client.get("/api/nearest", query_string=near).get_json()["served"] is True
    services(web).signals.flush()
    rows = _rows(services(web).repo.engine, signals.demand_signals)
    assert {(r[1], r[2]) for r in rows} == {
        (h3.latlng_to_cell(31.0, 100.0, 7), "locate_unserved"),
        (h3.latlng_to_cell(24.3080, 109.4213, 7), "search_served"),
    }


# -- counting ------------------------------------------------------------------------------


def test_counts_aggregate_per_cell_and_day(repo):
    now = [T0]
    rec = signals.SignalRecorder(repo.engine, clock=lambda: now[0])
    rng = random.Random(42)
    # five points inside one cell (its centre ± a few metres), two in a cell far away
    c_lat, c_lon = h3.cell_to_latlng(h3.latlng_to_cell(LAT, LON, 7))
    for _ in range(5):
        rec.record_point(
            "search", c_lon + rng.uniform(-2e-4, 2e-4), c_lat + rng.uniform(-2e-4, 2e-4), False
        )
    rec.record_point("search", 108.0, 23.0, False)
    rec.record_point("search", 108.0, 23.0, False)
    assert rec.flush() == 7
    now[0] = T0 + 86400  # the next day
    rec.record_point("search", c_lon, c_lat, False)
    rec.record_point("locate", c_lon, c_lat, False)
    rec.close()
    rows = _rows(repo.engine, signals.demand_signals)
    here, there = h3.latlng_to_cell(c_lat, c_lon, 7), h3.latlng_to_cell(23.0, 108.0, 7)
    assert sorted(rows) == sorted(
        [
            (date(2026, 12, 6), here, "search_unserved", 5),
            (date(2026, 12, 6), there, "search_unserved", 2),
            (date(2026, 12, 7), here, "locate_unserved", 1),
            (date(2026, 12, 7), here, "search_unserved", 1),
        ]
    )
    counts = signals.cell_counts(repo.engine, since=date(2026, 12, 6), until=date(2026, 12, 6))
    assert dict(zip(counts["cell"], counts["count"], strict=True)) == {here: 5, there: 2}
    assert signals.cell_counts(repo.engine, since=date(2026, 12, 7))["count"].sum() == 2


def test_day_is_china_time():
    # 2026-12-06 20:00 UTC is already 12-07 in China
    utc_evening = datetime.fromisoformat("2026-12-06T20:00:00+00:00").timestamp()
    assert signals.china_day(utc_evening) == date(2026, 12, 7)


def test_two_engines_and_threads_increment_the_same_cell(db_url):
    """Two engines (as two worker processes have), two threads each, flushing often: every
    event is counted once (atomic upsert; a write that fails is kept and retried)."""
    repos = [StationRepository.from_url(db_url) for _ in range(2)]
    repos[0].init_schema()
    recorders = [
        signals.SignalRecorder(r.engine, flush_events=7, flush_every_s=0.05, clock=lambda: T0)
        for r in repos
    ]
    per_thread = 150

    def work(rec):
        for i in range(per_thread):
            rec.record_point("locate", LON, LAT, False)
            rec.record_station("T-001", "view")
            if i % 25 == 0:
                rec.flush()

    threads = [threading.Thread(target=work, args=(rec,)) for rec in recorders for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rec in recorders:
        rec.close()
    try:
        total = 4 * per_thread
        cells = _rows(repos[0].engine, signals.demand_signals)
        assert cells == [
            (date(2026, 12, 6), h3.latlng_to_cell(LAT, LON, 7), "locate_unserved", total)
        ]
        views = signals.station_counts(repos[1].engine)
        assert views.to_dict("records") == [{"station_id": "T-001", "view": total, "navigate": 0}]
    finally:
        for r in repos:
            r.engine.dispose()


def test_off_switch_records_nothing(db_url):
    app = _app(db_url, YIZHAN_DEMAND_SIGNALS="off")
    try:
        client = app.test_client()
        q = {"lon": LON, "lat": LAT, "origin": "search"}
        assert client.get("/api/nearest", query_string=q).status_code == 200
        assert client.get("/stations/T-001").status_code == 200
        assert client.post("/signals/navigate/T-001").status_code == 204
        page = client.get("/stations/T-001").get_data(as_text=True)
        assert '"beaconUrl": ""' in page or '"beaconUrl":""' in page
        svc = services(app)
        assert svc.signals.pending == 0
        svc.signals.flush()
        engine = svc.repo.engine
        assert _rows(engine, signals.demand_signals) == []
        assert _rows(engine, signals.station_signals) == []
    finally:
        services(app).close()


# -- reading: suppression, demand, stations ------------------------------------------------


def _seed(engine, counts: dict[tuple[float, float], int], day=date(2026, 12, 6)):
    cells = {
        (day, signals.cell_of(lon, lat), "search_unserved"): n for (lon, lat), n in counts.items()
    }
    with engine.begin() as conn:
        signals.add_counts(conn, cells)


def test_small_counts_are_suppressed(repo):
    _seed(repo.engine, {(LON, LAT): 5, (109.30, 25.20): 2, (109.10, 25.00): 1})
    _seed(repo.engine, {(109.30, 25.20): 1}, day=date(2026, 12, 7))  # 2 + 1 over the period
    cells = signals.signal_cells(repo.engine, "450225")
    assert dict(zip(cells["cell_id"], cells["count"], strict=True)) == {
        signals.cell_of(LON, LAT): 5,
        signals.cell_of(109.30, 25.20): 3,
    }
    assert cells.attrs["suppressed_cells"] == 1 and cells.attrs["suppressed_count"] == 1
    one_day = signals.signal_cells(repo.engine, "450225", until=date(2026, 12, 6))
    assert list(one_day["count"]) == [5] and one_day.attrs["suppressed_count"] == 3
    # each polygon is its H3 cell, holding its centre
    for cid, geom in zip(cells["cell_id"], cells.geometry, strict=True):
        lat, lon = h3.cell_to_latlng(cid)
        assert geom.contains(sa_point(lon, lat))
        assert geom.area > 0


def sa_point(lon, lat):
    from shapely.geometry import Point

    return Point(lon, lat)


def _haversine_m(lon1, lat1, lon2, lat2) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def test_signals_as_plan_demand_give_the_brute_force_best_sites(repo):
    """Seeded searches around three places of 融水; the plan (MCLP, p = 2, exact) on the
    signal demand chooses the pair of candidates a brute force over all pairs finds best,
    counting the raw events' cells within the radius itself."""
    import geopandas as gpd

    from geo.plan import MCLP

    rng = random.Random(42)
    places = [((109.22, 25.10), 40), ((109.30, 25.25), 25), ((109.12, 24.95), 12)]
    events = []
    for (lon, lat), n in places:
        events += [(lon + rng.gauss(0, 0.01), lat + rng.gauss(0, 0.01)) for _ in range(n)]
    rec = signals.SignalRecorder(repo.engine, clock=lambda: T0)
    for lon, lat in events:
        rec.record_point("search", lon, lat, False)
    rec.close()
    demand = signals.signal_demand(repo.engine, "450225")
    assert demand.unit == "weight"
    # independent: cells of the raw events, then suppression, straight from h3
    raw: dict[str, int] = {}
    for lon, lat in events:
        c = h3.latlng_to_cell(lat, lon, 7)
        raw[c] = raw.get(c, 0) + 1
    kept = {c: n for c, n in raw.items() if n >= signals.MIN_COUNT}
    assert demand.total() == sum(kept.values())
    cand = [(109.05 + rng.random() * 0.35, 24.9 + rng.random() * 0.4) for _ in range(12)]
    radius_m = 4000.0
    centres = {c: h3.cell_to_latlng(c) for c in kept}

    def gain(sites):
        return sum(
            n
            for c, n in kept.items()
            if any(_haversine_m(x, y, centres[c][1], centres[c][0]) <= radius_m for x, y in sites)
        )

    best = max(gain([cand[i], cand[j]]) for i, j in itertools.combinations(range(12), 2))
    assert best > 0
    cands = gpd.GeoDataFrame(
        {"name": [f"c{i}" for i in range(12)]},
        geometry=[sa_point(x, y) for x, y in cand],
        crs="EPSG:4326",
    )
    problem = MCLP.from_geodataframe(
        demand.cells, cands, p=2, weights_col="demand", service_radius_m=radius_m
    )
    plan = problem.solve("exact")
    chosen = [cand[j] for j in plan.chosen]
    assert gain(chosen) == best


def test_signal_demand_refuses_an_empty_region(repo):
    from geo.errors import ValidationError

    _seed(repo.engine, {(LON, LAT): 2})
    with pytest.raises(ValidationError, match="at least 3"):
        signals.signal_demand(repo.engine, "450225")


def test_station_view_and_navigate_counts(web):
    client = web.test_client()
    for _ in range(3):
        assert client.get("/stations/T-001").status_code == 200
    assert client.get("/stations/T-002").status_code == 200
    assert client.get("/stations/T-002?format=json").status_code == 200  # not a page view
    for _ in range(2):
        assert client.post("/signals/navigate/T-001").status_code == 204
    page = client.get("/stations/T-003").get_data(as_text=True)
    assert "/signals/navigate/T-003" in page  # the page's beacon URL
    services(web).signals.flush()
    counts = signals.station_counts(services(web).repo.engine).set_index("station_id")
    assert counts.loc["T-001"].to_dict() == {"view": 3, "navigate": 2}
    assert counts.loc["T-002"].to_dict() == {"view": 1, "navigate": 0}
    assert counts.loc["T-003"].to_dict() == {"view": 1, "navigate": 0}


# -- the planner: layer and demand option ---------------------------------------------------


def _planner(app):
    UserRepository(services(app).repo.engine).create("alice", PASSWORD)
    c = app.test_client()
    tok = c.get("/planner/login?format=json").get_json()["csrf_token"]
    rv = c.post("/planner/login", data={"name": "alice", "password": PASSWORD, "csrf_token": tok})
    assert rv.status_code == 303
    c.csrf = c.get("/planner/login?format=json").get_json()["csrf_token"]
    return c


def test_planner_layer_shows_unsuppressed_cells(web):
    from geo.demand.signals import today

    engine = services(web).repo.engine
    _seed(engine, {(LON, LAT): 4, (109.30, 25.20): 2}, day=today())
    c = _planner(web)
    fc = c.get("/planner/signals/450225.geojson").get_json()
    assert [f["properties"]["count"] for f in fc["features"]] == [4]
    assert fc["features"][0]["geometry"]["type"] == "Polygon"
    assert fc["signals"]["enabled"] is True
    assert fc["signals"]["suppressed_cells"] == 1 and fc["signals"]["min_count"] == 3
    assert web.test_client().get("/planner/signals/450225.geojson").status_code in (302, 303, 401)


def test_planner_layer_says_when_off(db_url):
    app = _app(db_url, YIZHAN_DEMAND_SIGNALS="0")
    try:
        fc = _planner(app).get("/planner/signals/450225.geojson").get_json()
        assert fc["features"] == [] and fc["signals"]["enabled"] is False
        assert fc["signals"]["note"]
    finally:
        services(app).close()


def test_coverage_form_takes_signals_as_demand_points(web, tmp_path):
    """The coverage form's ``signals`` demand writes the region's cells as a weighted points
    CSV, which the run (and its plans) read as ``demand_points``."""
    from geo.demand.points import from_points
    from geo.demand.signals import today
    from geo.errors import ValidationError
    from webapp import planner

    form = {"region": "450225", "kind": "legal_aid", "mode": "car", "demand": "signals"}
    with (
        web.test_request_context("/planner/", method="POST", data=form),
        pytest.raises(ValidationError, match="3"),
    ):
        planner._coverage_params(tmp_path)
    _seed(services(web).repo.engine, {(LON, LAT): 6, (109.30, 25.20): 1}, day=today())
    with web.test_request_context("/planner/", method="POST", data=form):
        params = planner._coverage_params(tmp_path)
    assert params["demand"] == "signals"
    demand = from_points(params["demand_points"], region="450225")
    assert demand.unit == "weight" and demand.total() == 6


# -- migration and CLI ----------------------------------------------------------------------


def test_migration_downgrades_and_upgrades(repo):
    from alembic import command
    from alembic.config import Config

    from geo.store.repository import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with repo.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009_liuyou")
    names = sa.inspect(repo.engine).get_table_names()
    assert "demand_signals" not in names and "station_signals" not in names
    assert repo.init_schema() >= "0012_demand"
    _seed(repo.engine, {(LON, LAT): 3})
    assert signals.cell_counts(repo.engine)["count"].tolist() == [3]


def test_cli_exports_geojson_and_csv(repo, db_url, tmp_path):
    import csv
    import json
    import os

    _seed(repo.engine, {(LON, LAT): 7, (109.30, 25.20): 2})
    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    out = tmp_path / "s.geojson"
    r = support.cli(
        "demand", "signals", "--area", "450225", "--since", "2026-12-01", "--out", str(out), env=env
    )
    assert "1 cells" in r.stdout and "suppressed" in r.stdout
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert [f["properties"]["count"] for f in fc["features"]] == [7]
    out_csv = tmp_path / "s.csv"
    support.cli("demand", "signals", "--area", "450225", "--out", str(out_csv), env=env)
    rows = list(csv.DictReader(out_csv.read_text(encoding="utf-8").splitlines()))
    assert [r["weight"] for r in rows] == ["7"] and rows[0]["name"] == signals.cell_of(LON, LAT)
    r = support.cli(
        "demand",
        "signals",
        "--area",
        "450225",
        "--since",
        "2026-12-07",
        "--out",
        str(out),
        env=env,
    )
    assert json.loads(out.read_text(encoding="utf-8"))["features"] == []


# -- the workspace dashboard ------------------------------------------------------------------


def test_dashboard_shows_views_and_navigations_of_my_area_only(web):
    """T-001 (鱼峰区 450203) and T-002 (城中区 450202) have counts; an editor of 鱼峰区 sees
    only T-001's, on the dashboard and in the JSON twin of /manage/signals."""
    client = web.test_client()
    for _ in range(2):
        client.get("/stations/T-001")
    client.post("/signals/navigate/T-001")
    client.get("/stations/T-002")
    services(web).signals.flush()
    UserRepository(services(web).repo.engine).create(
        "yf_editor", PASSWORD, role="editor", areas=["450203"]
    )
    c = web.test_client()
    tok = c.get("/planner/login?format=json").get_json()["csrf_token"]
    rv = c.post(
        "/planner/login?format=json",
        data={"name": "yf_editor", "password": PASSWORD, "csrf_token": tok},
    )
    assert rv.status_code == 200
    doc = c.get("/manage/signals?format=json").get_json()
    assert doc["enabled"] is True and doc["days"] == 30
    assert [(r["station_id"], r["view"], r["navigate"]) for r in doc["rows"]] == [("T-001", 2, 1)]
    html = c.get("/manage/").get_data(as_text=True)
    assert 'id="mg-signals"' in html and "T-001" in html and "T-002" not in html


# -- several served processes ----------------------------------------------------------------


def test_two_gunicorn_workers_add_up(db_url, tmp_path):
    """``yizhan serve --workers 2`` (forked workers, each with its own buffer and writer
    thread): every counted request over HTTP ends up in the one row of its cell and day."""
    import time
    import urllib.request

    server = support.LiveServer(tmp_path, db_url=db_url, workers=2).start()
    try:
        n = 40
        for _ in range(n):  # a new connection each time: both workers answer some
            url = f"{server.url}/api/nearest?lon={LON}&lat={LAT}&origin=locate&mode=car"
            with urllib.request.urlopen(url, timeout=10) as rv:
                assert rv.status == 200
        repo = StationRepository.from_url(db_url)
        try:
            deadline = time.monotonic() + 3 * signals.FLUSH_EVERY_S + 5
            total = 0
            while time.monotonic() < deadline:
                counted = signals.cell_counts(repo.engine, kinds=signals.POINT_KINDS)
                total = int(counted["count"].sum())
                if total >= n:
                    break
                time.sleep(0.5)
            time.sleep(0.5)
            counts = signals.cell_counts(repo.engine, kinds=signals.POINT_KINDS)
            assert counts.to_dict("records") == [{"cell": signals.cell_of(LON, LAT), "count": n}]
        finally:
            repo.engine.dispose()
    finally:
        server.stop()
