"""The use cases (geo.workflows): typed parameters, the runs, and the same run in a spawned
worker of the planner's job runner."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from geo.coverage import covered_column
from geo.errors import ValidationError
from geo.models import KINDS, Station, parse_kind
from geo.records import read_registry
from geo.settings import DATA_DIR, Settings
from geo.store import StationRepository
from geo.workflows import (
    CoverageParams,
    PlanParams,
    Taxonomy,
    run_coverage,
    run_plan,
    write_coverage_outputs,
)
from support import cli

COUNTY = "450225"  # 融水苗族自治县: small, with township seats and a legal-aid post nearby
DEMO = DATA_DIR / "demo" / "stations.csv"

# every test that opens a store runs on SQLite and on PostgreSQL (``db_url``)
pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def stations():
    return read_registry(DEMO)[0]


# -- parameters ----------------------------------------------------------------------------


def test_coverage_params_normalise_and_round_trip():
    p = CoverageParams(
        kinds=["法律援助服务站"], region="融水", max_minutes=[60, 30, 60], mode="驾车"
    )
    assert p.kinds == ("legal_aid",) and p.region == COUNTY
    assert p.max_minutes == (30.0, 60.0) and p.mode == "car"
    assert CoverageParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    # the planner's job parameters: one kind, one threshold, extra keys ignored
    web = {"kind": "legal_aid", "region": COUNTY, "max_minutes": 45.0, "kind_label": "x"}
    assert CoverageParams.from_dict(web).max_minutes == (45.0,)


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"max_minutes": 0}, "max_minutes", "max_minutes must be > 0"),
        ({"max_minutes": [30, -5]}, "max_minutes", "max_minutes must be > 0"),
        ({"max_minutes": float("inf")}, "max_minutes", "max_minutes must be > 0"),
        ({"mode": "horse"}, "mode", "unknown travel mode"),
        ({"region": "999999"}, "region", "no admin unit has the code"),
        ({"region": "不存在的县"}, "region", "unknown admin unit"),
        ({"kinds": ["spaceport"]}, "kind", "unknown kind"),
        ({"kinds": []}, "kind", "at least one station kind"),
        ({"by": ["village"]}, "by", "tables by village"),
        ({"population": "a.tif", "demand_points": "b.csv"}, "demand", "at most one"),
        ({"population": "a.tif", "township_table": "t.csv"}, "township_table", "combine"),
    ],
)
def test_invalid_coverage_params_are_refused(change, field, message):
    values = {"kinds": ["legal_aid"], "region": COUNTY, **change}
    with pytest.raises(ValidationError, match=message) as info:
        CoverageParams(**values)
    assert info.value.field == field


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"max_minutes": 0}, "max_minutes", "max_minutes must be > 0"),
        ({"max_minutes": -1}, "max_minutes", "max_minutes must be > 0"),
        ({"mode": "horse"}, "mode", "unknown travel mode"),
        ({"region": "999999"}, "region", "no admin unit has the code"),
        ({"kind": "spaceport"}, "kind", "unknown kind"),
        ({"budget": 5}, "problem", "exactly one"),
        ({"add": 0}, "add", "whole number"),
        ({"solver": "magic"}, "solver", "greedy or exact"),
        ({"candidate_source": "moon"}, "candidate_source", "townships, gaps, grid"),
        ({"capacity": 5, "capacity_col": "cap"}, "capacity", "not both"),
        ({"demand_points": "p.csv", "township_table": "t.csv"}, "township_table", "combine"),
    ],
)
def test_invalid_plan_params_are_refused(change, field, message):
    values = {"kind": "legal_aid", "region": COUNTY, "add": 2, **change}
    with pytest.raises(ValidationError, match=message) as info:
        PlanParams(**values)
    assert info.value.field == field


# -- runs ----------------------------------------------------------------------------------


def test_run_coverage_from_params(stations, tmp_path):
    stages = []
    params = CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[30, 60])
    run = run_coverage(params, stations, progress=lambda s, f: stages.append((s, f)))
    result = run.result
    assert [s for s, _ in stages] == ["demand", "travel model", "travel times"]
    assert result.record["region"] == COUNTY and result.thresholds == [30.0, 60.0]
    minutes = result.cells["minutes"].to_numpy()
    for t in (30.0, 60.0):
        np.testing.assert_array_equal(result.covered(t), minutes <= t)
    assert result.covered().sum() >= result.covered(30).sum()
    with pytest.raises(ValidationError, match="threshold 45 was not computed"):
        result.covered(45)
    files = write_coverage_outputs(run, tmp_path, layers=True)
    assert {"summary", "by_county", "by_township", "xlsx", "map", "layer_cells"} <= set(files)
    cells = json.loads(files["layer_cells"].read_text(encoding="utf-8"))
    assert len(cells["features"]) == len(result.cells)
    # the covered_<m> columns remain an export field, named in one place
    assert covered_column(30) in result.cells.columns


def test_run_plan_from_params(stations):
    params = PlanParams(kind="legal_aid", region="融水", add=2, max_minutes=30)
    run = run_plan(params, stations)
    assert params.region == COUNTY
    assert len(run.plan.chosen) == 2
    assert run.plan.share_after >= run.plan.share_before
    assert run.before.covered(30).sum() <= run.after.covered(30).sum()
    weights = run.before.cells["demand"].to_numpy()
    assert run.plan.covered_before == pytest.approx(weights[run.before.covered(30)].sum())
    assert run.record()["params"]["kind"] == "legal_aid"


def test_runs_place_townships_from_the_registry_and_a_township_table(stations, tmp_path):
    """run_coverage and run_plan pass the registry to the seat demand (定边街道 is placed at
    its rest stops) and take a planner's township table through the parameters."""
    from geo.gazetteer import default_gazetteer

    towns = [
        d for d in default_gazetteer().units if d.level == "township" and d.county_code == "610825"
    ]
    params = CoverageParams(kinds=["rest_stop"], region="610825", max_minutes=[15])
    summary = run_coverage(params, stations).summary()
    assert summary["units"] == len(towns)
    assert summary["units_placed"] + summary["units_unplaced"] == len(towns)
    assert summary["thresholds"][0]["covered"] > 0  # 0 when 定边街道 was dropped
    lost = [d for d in towns if d.lon is None and d.code != "610825001000"]
    table = tmp_path / "towns.csv"
    table.write_text(
        "乡镇,经度,纬度\n" + f"{lost[0].name},107.9,37.4\n" + "不存在镇,107.9,37.4\n",
        encoding="utf-8",
    )
    with_table = CoverageParams.from_dict({**params.to_dict(), "township_table": str(table)})
    assert with_table.township_table == str(table)
    summary = run_coverage(with_table, stations).summary()
    assert summary["units_unplaced"] == len(lost) - 1
    assert any("towns.csv line 3" in w for w in summary["warnings"])
    plan = PlanParams(
        kind="rest_stop", region="610825", add=1, max_minutes=15, township_table=str(table)
    )
    run = run_plan(plan, stations)
    assert run.summary()["units_unplaced"] == len(lost) - 1
    assert run.before.summary()["units_placed"] == len(run.before.cells)
    assert "位置未知" in run.summary()["headline"]


def test_cli_and_run_coverage_give_the_same_numbers(tmp_path, db_url):
    db = db_url
    env = {**os.environ, "YIZHAN_DATABASE_URL": db}
    cli("demo", env=env)
    out = tmp_path / "out"
    cli(
        "coverage",
        "--kind",
        "legal_aid",
        "--max-minutes",
        "30",
        "--max-minutes",
        "60",
        "--region",
        COUNTY,
        "--out",
        str(out),
        env=env,
    )
    from_cli = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    repo = StationRepository.from_url(db)
    try:
        stations = repo.all()
    finally:
        repo.engine.dispose()
    params = CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[30, 60])
    direct = run_coverage(params, stations).summary()
    assert from_cli["thresholds"] == direct["thresholds"]
    assert from_cli["cells"] == direct["cells"] and from_cli["stations"] == direct["stations"]


# -- the taxonomy in a spawned worker --------------------------------------------------------


PORT = "port_station:港口驿站:Port station"


@pytest.fixture
def port_kind(monkeypatch):
    """An extra kind configured by a settings object (as ``create_app(SETTINGS=…)`` does), not
    by the environment; removed afterwards."""
    monkeypatch.delenv("YIZHAN_EXTRA_KINDS", raising=False)
    Settings(extra_kinds=PORT).register_taxonomy()
    try:
        yield "port_station"
    finally:
        KINDS.pop("port_station", None)


def _parse_in_worker(name: str) -> str:
    try:
        return parse_kind(name)
    except ValidationError as exc:
        return exc.message


@pytest.mark.slow
def test_spawned_job_worker_knows_configured_kinds(tmp_path, db_url, stations, port_kind):
    from webapp.jobs import JobRunner, plan_task

    db = db_url
    repo = StationRepository.from_url(db)
    repo.init_schema()
    port = Station(id="PORT-1", name="融水港口驿站", kind=port_kind, lon=109.256, lat=25.066)
    repo.save([*stations, port])
    repo.engine.dispose()
    params = PlanParams(kind="港口驿站", region=COUNTY, add=1, max_minutes=30).to_dict()
    assert params["kind"] == port_kind

    # The old path: a spawned worker that was not given the taxonomy refuses the kind.
    spawn = multiprocessing.get_context("spawn")
    folder = tmp_path / "old"
    folder.mkdir()
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        state, message = pool.submit(plan_task, str(folder), db, params, None).result(300)
    assert state == "failed" and "unknown kind" in message

    # The job runner (a spawned worker process per job) ships it with the task.
    runner = JobRunner(tmp_path / "jobs", workers=1)
    try:
        job = runner.start(runner.new("plan", "alice", params), plan_task, db, params, None)
        deadline = time.monotonic() + 300
        while not runner.get(job.id).finished and time.monotonic() < deadline:
            time.sleep(0.5)
        job = runner.get(job.id)
        assert job.state == "done", job.message
        assert len(job.result["plan"]["chosen"]) == 1
        assert (job.folder / "plan.json").is_file()
    finally:
        runner.shutdown()  # terminates and joins its workers: no process left behind


@pytest.mark.slow
def test_any_spawned_process_reads_the_configured_kinds(monkeypatch):
    """A pool nobody prepared (a library's own): the worker reads YIZHAN_EXTRA_KINDS itself."""
    monkeypatch.setenv("YIZHAN_EXTRA_KINDS", PORT)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        assert pool.submit(_parse_in_worker, "港口驿站").result(120) == "port_station"
        assert "unknown kind" in pool.submit(_parse_in_worker, "太空站").result(120)


def test_taxonomy_snapshot_installs_in_another_registry(port_kind):
    snap = Taxonomy.current()
    assert port_kind in {t.code for t in snap.kinds}
    KINDS.pop(port_kind)
    with pytest.raises(ValidationError, match="unknown kind"):
        parse_kind("港口驿站")
    snap.install()
    assert parse_kind("港口驿站") == port_kind


# ------------------------------------------------------------------------------------------
# Issue 11 (engine): a run reads only the stations within the model's reach of its region
# (item 3); minutes_cap (item 2); the whole country (item 12)

LIUZHOU = "450200"


def _store(db_url: str, stations) -> StationRepository:
    repo = StationRepository.from_url(db_url)
    repo.init_schema()
    repo.save(stations)
    return repo


def test_liuzhou_run_reads_and_maps_no_shaanxi_station(stations, tmp_path, db_url):
    """The demo registry has rest stops around Liuzhou and in Shaanxi (Dingbian, Shangluo)."""
    from geo.travel import CrowflyModel
    from geo.workflows import build_demand, select_stations

    repo = _store(db_url, stations)
    shaanxi = [s for s in stations if s.province == "陕西省" and s.kind == "rest_stop"]
    assert shaanxi
    params = CoverageParams(kinds=["rest_stop"], region=LIUZHOU, max_minutes=[30, 60])
    stages = []
    run = run_coverage(params, repo, progress=lambda s, f: stages.append(s))
    assert stages == ["demand", "travel model", "travel times"]
    # from the store, only stations within reach are read: none of Shaanxi's
    read = select_stations(
        repo, ["rest_stop"], build_demand(LIUZHOU), CrowflyModel("car"), [30, 60]
    )
    assert read and not {s.id for s in read} & {s.id for s in shaanxi}
    assert {s.id for s in read} >= set(run.result.stations["id"])
    files = write_coverage_outputs(run, tmp_path / "out", layers=True)
    html = files["map"].read_text(encoding="utf-8")
    layer = json.loads(files["layer_stations"].read_text(encoding="utf-8"))
    ids = {f["properties"]["id"] for f in layer["features"]}
    assert ids and not ids & {s.id for s in shaanxi}
    assert not [s.name for s in shaanxi if s.name in html or json.dumps(s.name)[1:-1] in html]
    # the same numbers as a run given only the stations around Liuzhou (and a list)
    guangxi = [s for s in stations if s.province == "广西壮族自治区"]
    alone = run_coverage(params, guangxi).result
    np.testing.assert_array_equal(run.result.cells["minutes"], alone.cells["minutes"])
    np.testing.assert_array_equal(run.result.cells["station_id"], alone.cells["station_id"])
    assert run.result.summary()["thresholds"] == alone.summary()["thresholds"]
    assert set(run.result.stations["id"]) == set(alone.stations["id"])
    repo.engine.dispose()


def test_halo_stations_outside_the_region_still_count(stations, tmp_path, db_url):
    """A station just outside the county's outline (seeded position east of 融水) is within
    the halo and counts, from a store as from a list."""
    import random

    from geo.regions import region_polygon

    rng = random.Random(42)
    _, y0, x1, y1 = region_polygon(COUNTY).bounds
    outside = Station(
        id="HALO-1",
        name="界外站",
        kind="legal_aid",
        lon=x1 + 0.02 + rng.uniform(0, 0.01),
        lat=(y0 + y1) / 2 + rng.uniform(-0.01, 0.01),
    )
    params = CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[30])
    repo = _store(db_url, [*stations, outside])
    from_store = run_coverage(params, repo).result
    from_list = run_coverage(params, [*stations, outside]).result
    assert "HALO-1" in set(from_store.stations["id"])
    np.testing.assert_array_equal(from_store.cells["minutes"], from_list.cells["minutes"])
    np.testing.assert_array_equal(from_store.cells["station_id"], from_list.cells["station_id"])
    repo.engine.dispose()


def test_minutes_cap_parameter():
    params = CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[30, 60])
    assert params.minutes_cap is None
    capped = CoverageParams.from_dict({**params.to_dict(), "minutes_cap": "180"})
    assert capped.minutes_cap == 180.0
    with pytest.raises(ValidationError) as e:
        CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[60], minutes_cap=30)
    assert e.value.field == "minutes_cap"


def test_run_coverage_caps_minutes_as_asked(stations):
    params = CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[15], minutes_cap=90)
    result = run_coverage(params, stations).result
    minutes = result.cells["minutes"].to_numpy()
    assert ((minutes > 15) & (minutes <= 90)).any()
    assert not (minutes[np.isfinite(minutes)] > 90).any()
    assert result.summary()["minutes_cap"] == 90.0
    wider = run_coverage(dataclasses_replace(params, minutes_cap=1000), stations).result
    beyond = ~np.isfinite(minutes)
    assert beyond.any() and (wider.cells["minutes"].to_numpy()[beyond] > 90).all()


def dataclasses_replace(params, **changes):
    return CoverageParams.from_dict({**params.to_dict(), **changes})


def test_national_crowfly_run(stations, tmp_path):
    """Region 100000 (the whole country) at H3 resolution 4 from a province table."""
    table = tmp_path / "population.csv"
    table.write_text("code,population\n450000,50000000\n610000,39000000\n", encoding="utf-8")
    params = CoverageParams(
        kinds=["rest_stop"], region="全国", population_table=str(table), resolution=4
    )
    assert params.region == "100000"
    result = run_coverage(params, stations).result
    assert len(result.cells) > 5000
    assert result.cells["demand"].sum() == pytest.approx(89_000_000)
    covered = result.summary()["thresholds"][0]["covered"]
    assert 0 < covered < 89_000_000
    # every cell in Guangxi or Shaanxi is in the table; stations in both are used
    assert {"广西壮族自治区", "陕西省"} <= {
        s.province for s in stations if s.id in set(result.stations["id"])
    }


def test_run_plan_from_a_store_equals_the_list(stations, tmp_path, db_url):
    """A plan reads the stations within reach from the store; a what-if removal of a station
    far away (Jiangsu) is still checked against the whole registry."""
    repo = _store(db_url, stations)
    far = next(s for s in stations if s.province == "江苏省")
    params = PlanParams(
        kind="legal_aid", region="融水", add=2, max_minutes=30, remove_station_ids=[far.id]
    )
    a, b = run_plan(params, repo), run_plan(params, stations)
    assert list(a.plan.chosen) == list(b.plan.chosen)
    assert a.plan.share_after == b.plan.share_after
    np.testing.assert_array_equal(a.before.cells["minutes"], b.before.cells["minutes"])
    with pytest.raises(ValidationError, match="no station with id NOPE"):
        run_plan(
            PlanParams(kind="legal_aid", region="融水", add=1, remove_station_ids=["NOPE"]), repo
        )
    repo.engine.dispose()
