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


def test_cli_and_run_coverage_give_the_same_numbers(tmp_path):
    db = f"sqlite:///{tmp_path / 'w.db'}"
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
def test_spawned_job_worker_knows_configured_kinds(tmp_path, stations, port_kind):
    from webapp.jobs import JobRunner, plan_task

    db = f"sqlite:///{tmp_path / 'j.db'}"
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
