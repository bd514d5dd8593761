"""``yizhan plan`` end to end on the demo registry: report folder and its numbers."""

from __future__ import annotations

import json
import os

import openpyxl
import pytest

from support import cli

# every run reads the registry from a database: on SQLite and on PostgreSQL (``db_url``)
pytestmark = pytest.mark.both_backends


@pytest.mark.slow
def test_plan_add_sites_report(tmp_path, db_url):
    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    cli("demo", env=env)
    out = tmp_path / "plan"
    proc = cli(
        "plan",
        "--kind",
        "legal_aid",
        "--add",
        "3",
        "--max-minutes",
        "60",
        "--mode",
        "car",
        "--region",
        "450200",
        "--cost-per-site",
        "80000",
        "--out",
        str(out),
        env=env,
    )
    assert "mclp (greedy" in proc.stdout
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    plan = doc["plan"]
    assert len(plan["chosen"]) == 3
    assert plan["covered_after"] == plan["covered_before"] + sum(plan["gains"])
    assert plan["bound"] >= plan["covered_after"]
    # The coverage recomputed with the chosen sites added agrees with the plan.
    after = doc["coverage_after"]["thresholds"][0]["covered"]
    assert after == plan["covered_after"]
    wb = openpyxl.load_workbook(out / "plan.xlsx", read_only=True)
    assert wb.sheetnames == ["说明", "汇总", "按县区", "按乡镇", "新增站点"]
    wb.close()
    for name in (
        "chosen_sites.geojson",
        "chosen_sites.gpkg",
        "map.html",
        "coverage_curve.png",
        "travel_time_hist.png",
    ):
        assert (out / name).stat().st_size > 0
    sites = json.loads((out / "chosen_sites.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["rank"] for f in sites["features"]] == [1, 2, 3]
    assert all(f["properties"]["cost"] == 80000 for f in sites["features"])


@pytest.mark.slow
def test_plan_budget_and_target_and_bad_input(tmp_path, db_url):
    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    cli("demo", env=env)
    budget = cli(
        "plan",
        "--kind",
        "workers_home",
        "--budget",
        "400000",
        "--cost-per-site",
        "80000",
        "--region",
        "451000",
        "--out",
        str(tmp_path / "b"),
        env=env,
    )
    doc = json.loads((tmp_path / "b" / "plan.json").read_text(encoding="utf-8"))
    assert doc["plan"]["cost"] <= 400000 and len(doc["plan"]["chosen"]) <= 5
    assert "budget" in budget.stdout
    target = cli(
        "plan",
        "--kind",
        "legal_aid",
        "--target-share",
        "0.95",
        "--region",
        "450200",
        "--solver",
        "exact",
        "--out",
        str(tmp_path / "t"),
        env=env,
    )
    assert "lscp (exact" in target.stdout
    missing_costs = cli(
        "plan",
        "--kind",
        "workers_home",
        "--budget",
        "400000",
        "--region",
        "451000",
        "--out",
        str(tmp_path / "x"),
        env=env,
        check=False,
    )
    assert missing_costs.returncode != 0 and "cost" in missing_costs.stderr
    two = cli(
        "plan",
        "--kind",
        "legal_aid",
        "--add",
        "2",
        "--budget",
        "5",
        "--region",
        "450200",
        "--out",
        str(tmp_path / "y"),
        env=env,
        check=False,
    )
    assert two.returncode != 0 and "exactly one" in two.stderr


@pytest.mark.slow
def test_scenarios_save_what_if_stale_rerun_compare(tmp_path, db_url):
    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    cli("demo", env=env)
    base = {"kind": "legal_aid", "region": "450200", "add": 2, "max_minutes": 60}
    what_if = {
        **base,
        "remove_station_ids": ["DEMO-LZ-LA-009"],
        "add_stations": [{"name": "融水县拟建法律援助站", "lon": 109.25, "lat": 25.07}],
    }
    (tmp_path / "a.json").write_text(json.dumps(base), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(what_if), encoding="utf-8")
    a = cli("scenario", "save", "基准", "--params", str(tmp_path / "a.json"), env=env)
    b = cli("scenario", "save", "融水调整", "--params", str(tmp_path / "b.json"), env=env)
    id_a = a.stdout.strip().split("saved scenario ")[1].split()[0]
    id_b = b.stdout.strip().split("saved scenario ")[1].split()[0]
    shown = json.loads(cli("scenario", "show", id_b, env=env).stdout)
    assert shown["params"]["remove_station_ids"] == ["DEMO-LZ-LA-009"]
    assert shown["result"]["share_after"] > 0 and not shown["stale"]
    compared = cli("scenario", "compare", id_a, id_b, env=env).stdout
    assert "share_after" in compared and "基准" in compared
    # The registry changes: scenarios become stale until re-run.
    extra = tmp_path / "new.csv"
    extra.write_text(
        "编号,名称,类型,经度,纬度\nNEW-1,三江新增法援站,法律援助服务站,109.6,25.8\n",
        encoding="utf-8",
    )
    cli("import", str(extra), env=env)
    assert "stale" in cli("scenario", "list", env=env).stdout
    cli("scenario", "rerun", id_a, env=env)
    listing = cli("scenario", "list", env=env).stdout
    assert f"{id_a}\t基准" in listing and "stale" not in listing.split(id_a)[1].split("\n")[0]
    missing = cli("scenario", "show", "nope", env=env, check=False)
    assert missing.returncode != 0 and "no scenario" in missing.stderr


@pytest.mark.slow
def test_plan_capacity_and_mean_time_tie_break(tmp_path, db_url):
    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    cli("demo", env=env)
    common = ["plan", "--kind", "legal_aid", "--add", "3", "--region", "450200"]
    free = cli(*common, "--solver", "exact", "--out", str(tmp_path / "f"), env=env)
    assert "mean travel time" in free.stdout
    proc = cli(
        *common,
        "--solver",
        "exact",
        "--capacity",
        "2",
        "--tie-break",
        "mean-time",
        "--out",
        str(tmp_path / "c"),
        env=env,
    )
    assert "tie-break" in proc.stderr
    plan = json.loads((tmp_path / "c" / "plan.json").read_text(encoding="utf-8"))["plan"]
    unlimited = json.loads((tmp_path / "f" / "plan.json").read_text(encoding="utf-8"))["plan"]
    assert plan["tie_break"] == "mean-time" and plan["mean_minutes"] > 0
    # Each site serves at most 2 townships: at most 6 more than before, never more than
    # without capacities.
    assert all(0 < g <= 2 for g in plan["gains"])
    assert plan["covered_after"] - plan["covered_before"] == sum(plan["gains"])
    assert plan["covered_after"] <= unlimited["covered_after"]
    assert sum(r["gain"] for r in plan["by_county"]) == sum(plan["gains"])
    # A column of the candidates file as capacities.
    sites = tmp_path / "sites.csv"
    sites.write_text(
        "id,name,lon,lat,容量\nS1,甲,109.25,25.07,1\nS2,乙,109.6,25.8,5\nS3,丙,109.7,24.6,2\n",
        encoding="utf-8",
    )
    col = cli(
        *common,
        "--candidates",
        str(sites),
        "--capacity-col",
        "容量",
        "--out",
        str(tmp_path / "k"),
        env=env,
    )
    assert "mclp (greedy" in col.stdout
    got = json.loads((tmp_path / "k" / "plan.json").read_text(encoding="utf-8"))["plan"]
    caps = {0: 1, 1: 5, 2: 2}
    assert all(g <= caps[j] for j, g in zip(got["chosen"], got["gains"], strict=True))
    for bad, word in (
        (["--capacity", "0"], "capacity"),
        (["--capacity-col", "nope", "--candidates", str(sites)], "nope"),
        (["--capacity", "1", "--capacity-col", "容量", "--candidates", str(sites)], "not both"),
    ):
        proc = cli(*common, *bad, "--out", str(tmp_path / "x"), env=env, check=False)
        assert proc.returncode != 0 and word in proc.stderr, proc.stderr
    target = cli(
        "plan",
        "--kind",
        "legal_aid",
        "--target-share",
        "0.9",
        "--capacity",
        "3",
        "--region",
        "450200",
        "--out",
        str(tmp_path / "t"),
        env=env,
        check=False,
    )
    assert target.returncode != 0 and "capacit" in target.stderr


def write_grid_pbf(path, bounds, step=0.005):
    """A road grid (primary roads every ``step`` degrees, nodes within 500 m snapping of any
    point) over ``bounds``, as an OSM .pbf."""
    import numpy as np
    import osmium

    x0, y0, x1, y1 = bounds
    xs, ys = np.arange(x0, x1 + step, step), np.arange(y0, y1 + step, step)
    ids = {}
    with osmium.SimpleWriter(str(path)) as w:
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                ids[i, j] = len(ids) + 1
                w.add_node(osmium.osm.mutable.Node(id=ids[i, j], location=(x, y)))
        way = 1
        tags = {"highway": "primary"}
        for i in range(len(xs)):
            refs = [ids[i, j] for j in range(len(ys))]
            w.add_way(osmium.osm.mutable.Way(id=way, nodes=refs, tags=tags))
            way += 1
        for j in range(len(ys)):
            refs = [ids[i, j] for i in range(len(xs))]
            w.add_way(osmium.osm.mutable.Way(id=way, nodes=refs, tags=tags))
            way += 1
    return path


@pytest.mark.slow
def test_plan_on_a_road_network(tmp_path, db_url):
    """--network plans on the road-network model; its coverage is the engine's own."""
    from geo.coverage import compute_coverage
    from geo.store import StationRepository
    from geo.travel.network import NetworkModel, RoadGraph
    from geo.workflows import build_demand

    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    cli("demo", env=env)
    demand = build_demand("450225", None, None, None, 7)
    pbf = write_grid_pbf(tmp_path / "grid.osm.pbf", demand.cells.total_bounds)
    out = tmp_path / "plan"
    args = ["plan", "--kind", "legal_aid", "--add", "2", "--max-minutes", "30"]
    args += ["--mode", "car", "--region", "450225", "--resolution", "7"]
    proc = cli(*args, "--network", str(pbf), "--out", str(out), env=env)
    assert "mclp" in proc.stdout
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert doc["model"]["model"] == "network"
    plan = doc["plan"]
    assert len(plan["chosen"]) == 2 and plan["covered_after"] >= plan["covered_before"]
    # the 'before' coverage equals the coverage engine run directly on the same network
    model = NetworkModel(RoadGraph.from_pbf(pbf, "car"))
    repo = StationRepository.from_url(db_url)
    stations = repo.all()
    repo.engine.dispose()
    direct = compute_coverage(stations, demand, model, 30, kinds=["legal_aid"], region="450225")
    covered = direct.summary()["thresholds"][0]["covered"]
    assert covered > 0  # the county's legal-aid post reaches its own seat at least
    assert doc["coverage_before"]["thresholds"][0]["covered"] == covered == plan["covered_before"]
    crow = cli(*args, "--out", str(tmp_path / "crow"), env=env)
    assert "mclp" in crow.stdout
    crow_doc = json.loads((tmp_path / "crow" / "plan.json").read_text(encoding="utf-8"))
    assert crow_doc["model"]["model"] == "crowfly"


def test_coverage_and_plan_take_a_township_table(tmp_path, db_url):
    """``--township-table`` places townships the gazetteer cannot (城中/公园/沿江/河东街道 of
    柳州) and weights them; what stays unplaced is counted, bad rows named by line."""
    import csv
    import random

    from shapely import Point

    from geo.gazetteer import default_gazetteer
    from geo.regions import region_polygon

    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    cli("demo", env=env)
    rng = random.Random(42)
    towns = [
        d
        for d in default_gazetteer().units
        if d.level == "township" and d.prefecture_code == "450200"
    ]
    lost = [d for d in towns if d.lon is None][:4]
    path = tmp_path / "乡镇表.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["乡镇名称", "经度", "纬度", "常住人口"])
        for d in lost:
            polygon = region_polygon(d.county_code)
            x0, y0, x1, y1 = polygon.bounds
            while not polygon.contains(Point(x := rng.uniform(x0, x1), y := rng.uniform(y0, y1))):
                pass
            w.writerow([d.name, f"{x:.6f}", f"{y:.6f}", rng.randint(5000, 60000)])
        w.writerow(["火星街道", "109.4", "24.3", "100"])  # line 6
    out = tmp_path / "cov"
    proc = cli(
        "coverage",
        "--kind",
        "legal_aid",
        "--region",
        "450200",
        "--township-table",
        str(path),
        "--out",
        str(out),
        env=env,
    )
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["demand_unit"] == "population"
    assert summary["units"] == len(towns)
    assert summary["units_placed"] + summary["units_unplaced"] == len(towns)
    assert summary["headline"] in proc.stdout and "位置未知" in summary["headline"]
    assert "乡镇表.csv line 6: '火星街道' names no township" in proc.stderr
    import pandas as pd

    table = pd.read_csv(out / "by_township.csv", dtype={"code": str}).set_index("code")
    for d in lost:
        assert table.loc[d.code, "state"] != "位置未知"
    assert (table["state"] == "位置未知").sum() == summary["units_unplaced"]
    plan = cli(
        "plan",
        "--kind",
        "legal_aid",
        "--add",
        "1",
        "--region",
        "450200",
        "--township-table",
        str(path),
        "--out",
        str(tmp_path / "plan"),
        env=env,
    )
    assert "位置未知" in plan.stdout
    doc = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert doc["params"]["township_table"] == str(path)
    assert doc["coverage_after"]["units_unplaced"] == summary["units_unplaced"]
