"""Location-allocation (geo.plan): greedy and exact against brute force on small instances."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from geo.crs import EARTH_RADIUS_M
from geo.errors import ValidationError
from geo.plan import LSCP, MCLP, Budget, coverage_matrix, coverage_matrix_crowfly, highs_available
from geo.travel.crowfly import CrowflyModel

needs_highs = pytest.mark.skipif(not highs_available(), reason="highspy not installed")
TOL = 1e-9


def instance(seed: int, m: int = 40, n: int = 10, density: float = 0.2):
    """Seeded random instance: covers (m × n), integer weights, an existing-coverage mask."""
    rng = np.random.default_rng(seed)
    covers = rng.random((m, n)) < density
    weights = rng.integers(1, 50, m).astype(float)
    covered = rng.random(m) < 0.2
    costs = rng.integers(1, 6, n).astype(float)
    return covers, weights, covered, costs


SEEDS = [42 + k for k in range(8)]


def value(covers, weights, covered, sites) -> float:
    hit = covered | (covers[:, list(sites)].any(axis=1) if sites else False)
    return float(weights[hit].sum())


def brute_mclp(covers, weights, covered, p):
    n = covers.shape[1]
    return max(
        value(covers, weights, covered, s)
        for k in range(min(p, n) + 1)
        for s in itertools.combinations(range(n), k)
    )


def brute_budget(covers, weights, covered, costs, budget):
    n = covers.shape[1]
    best = value(covers, weights, covered, ())
    for k in range(1, n + 1):
        for s in itertools.combinations(range(n), k):
            if costs[list(s)].sum() <= budget:
                best = max(best, value(covers, weights, covered, s))
    return best


def brute_lscp(covers, weights, covered, share):
    n = covers.shape[1]
    need = share * weights.sum() - 1e-9
    for k in range(n + 1):
        if any(
            value(covers, weights, covered, s) >= need for s in itertools.combinations(range(n), k)
        ):
            return k
    return None


def check_plan(plan, covers, weights, covered):
    """Invariants every plan keeps."""
    assert plan.covered_before == pytest.approx(float(weights[covered].sum()))
    assert plan.objective == pytest.approx(value(covers, weights, covered, list(plan.chosen)))
    assert plan.objective == plan.covered_after
    assert plan.gains.sum() == pytest.approx(plan.objective - plan.covered_before)
    assert (plan.gains > 0).all()
    assert len(set(plan.chosen.tolist())) == len(plan.chosen)
    # Each gain is the site's marginal coverage given the sites before it.
    for k, j in enumerate(plan.chosen):
        prev = list(plan.chosen[:k])
        gain = value(covers, weights, covered, [*prev, j]) - value(covers, weights, covered, prev)
        assert plan.gains[k] == pytest.approx(gain)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [1, 3, 5])
def test_mclp_greedy_and_exact_against_brute_force(seed, p):
    covers, weights, covered, _ = instance(seed)
    opt = brute_mclp(covers, weights, covered, p)
    problem = MCLP.from_cost_matrix(sp.csr_matrix(covers), weights, p, already_covered=covered)
    greedy = problem.solve("greedy")
    check_plan(greedy, covers, weights, covered)
    assert len(greedy.chosen) <= p
    before = greedy.covered_before
    assert greedy.objective - before >= (1 - 1 / math.e) * (opt - before) - TOL
    assert greedy.bound >= opt - 1e-6
    assert 0 <= greedy.gap <= 1
    if highs_available():
        assert greedy.bound_source in ("lp", "lagrangian", "submodular", "trivial")
        exact = problem.solve("exact", time_limit_s=30)
        check_plan(exact, covers, weights, covered)
        assert exact.solver == "exact"
        assert exact.status == "optimal"
        assert exact.objective == pytest.approx(opt)
        assert exact.bound >= opt - 1e-6
        assert exact.gap <= 1e-6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("budget", [3.0, 7.0, 12.0])
def test_budget_against_brute_force(seed, budget):
    covers, weights, covered, costs = instance(seed)
    opt = brute_budget(covers, weights, covered, costs, budget)
    problem = Budget.from_cost_matrix(covers, weights, costs, budget, already_covered=covered)
    greedy = problem.solve("greedy")
    check_plan(greedy, covers, weights, covered)
    assert greedy.cost == pytest.approx(costs[greedy.chosen].sum())
    assert greedy.cost <= budget + TOL
    before = greedy.covered_before
    assert greedy.objective - before >= 0.5 * (1 - 1 / math.e) * (opt - before) - TOL
    assert greedy.bound >= opt - 1e-6
    if highs_available():
        exact = problem.solve("exact")
        check_plan(exact, covers, weights, covered)
        assert exact.cost <= budget + TOL
        assert exact.objective == pytest.approx(opt)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("share", [0.5, 0.75, 0.9])
def test_lscp_minimal_count_against_brute_force(seed, share):
    covers, weights, covered, _ = instance(seed, density=0.3)
    k = brute_lscp(covers, weights, covered, share)
    problem = LSCP.from_cost_matrix(covers, weights, share, already_covered=covered)
    greedy = problem.solve("greedy")
    if k is None:
        assert greedy.status == "infeasible"
        return
    check_plan(greedy, covers, weights, covered)
    assert greedy.share_after >= share - 1e-9
    assert len(greedy.chosen) >= k
    assert greedy.bound <= k  # a lower bound on the number of sites
    if highs_available():
        exact = problem.solve("exact")
        check_plan(exact, covers, weights, covered)
        assert len(exact.chosen) == k
        assert exact.share_after >= share - 1e-9
        assert exact.status == "optimal"


@needs_highs
def test_exact_warm_start_and_time_limit_path_returns_a_plan():
    covers, weights, covered, _ = instance(7, m=300, n=12, density=0.15)
    plan = MCLP.from_cost_matrix(covers, weights, 4, covered).solve("exact", time_limit_s=0.001)
    check_plan(plan, covers, weights, covered)
    assert plan.solver in ("exact", "greedy")
    if plan.status != "optimal":
        assert plan.messages


def test_already_covered_demand_not_counted():
    covers = np.array([[1, 0], [1, 0], [0, 1]], dtype=bool)
    weights = np.array([10.0, 10.0, 5.0])
    # Rows 0 and 1 are already covered: candidate 0 adds nothing, candidate 1 adds 5.
    plan = MCLP.from_cost_matrix(covers, weights, 1, np.array([True, True, False])).solve()
    assert plan.chosen.tolist() == [1]
    assert plan.gains.tolist() == [5.0]
    assert plan.covered_before == 20.0
    assert plan.objective == 25.0
    assert plan.share_after == 1.0
    # Everything already covered: an empty plan.
    plan = MCLP.from_cost_matrix(covers, weights, 2, np.ones(3, dtype=bool)).solve()
    assert plan.chosen.tolist() == []
    assert plan.gap == 0.0


def test_identical_rows_are_merged():
    covers = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 0]], dtype=bool)
    weights = np.array([1.0, 2.0, 3.0, 5.0, 100.0])
    plan = MCLP.from_cost_matrix(covers, weights, 1).solve()
    assert plan.stats["demand_rows_solved"] == 2
    assert plan.stats["demand_unreachable"] == 1
    assert plan.chosen.tolist() == [0]
    assert plan.objective == 6.0
    assert plan.total_weight == 111.0


def test_infeasible_target_reports_best_share():
    covers = np.array([[1, 0], [0, 1], [0, 0], [1, 1]], dtype=bool)
    weights = np.array([1.0, 1.0, 2.0, 1.0])  # row 2 unreachable: best share 3/5
    for solver in ("greedy", "exact"):
        plan = LSCP.from_cost_matrix(covers, weights, 0.9).solve(solver)
        assert plan.status == "infeasible"
        assert plan.best_share == pytest.approx(0.6)
        assert plan.share_after == pytest.approx(0.6)
        assert len(plan.chosen) == 2
        assert any("out of reach" in m for m in plan.messages)


def test_target_met_by_existing_stations():
    covers = np.array([[1, 0], [0, 1]], dtype=bool)
    plan = LSCP.from_cost_matrix(covers, None, 0.5, np.array([True, False])).solve("exact")
    assert plan.chosen.tolist() == []
    assert plan.status == "optimal"


def test_p_larger_than_candidates_is_capped():
    covers = np.array([[1, 0], [0, 1]], dtype=bool)
    plan = MCLP.from_cost_matrix(covers, None, 5).solve()
    assert any("capped" in m for m in plan.messages)
    assert sorted(plan.chosen.tolist()) == [0, 1]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: MCLP.from_cost_matrix(np.zeros((3, 0), dtype=bool), None, 1), "covers"),
        (lambda: MCLP.from_cost_matrix(np.zeros((0, 3), dtype=bool), None, 1), "covers"),
        (lambda: MCLP.from_cost_matrix(np.ones((3, 2), dtype=bool), [1, 2], 1), "weights"),
        (lambda: MCLP.from_cost_matrix(np.ones((2, 2), dtype=bool), [1, np.nan], 1), "weights"),
        (lambda: MCLP.from_cost_matrix(np.ones((2, 2), dtype=bool), [1, -1], 1), "weights"),
        (lambda: MCLP.from_cost_matrix(np.ones((2, 2), dtype=bool), None, -1), "p"),
        (lambda: MCLP.from_cost_matrix(np.ones((2, 2), dtype=bool), None, 1.5), "p"),
        (
            lambda: MCLP.from_cost_matrix(np.ones((2, 2), dtype=bool), None, 1, [True]),
            "already_covered",
        ),
        (lambda: MCLP.from_cost_matrix(np.ones(4, dtype=bool), None, 1), "covers"),
        (lambda: Budget.from_cost_matrix(np.ones((2, 2), dtype=bool), None, [1, -1], 3), "costs"),
        (
            lambda: Budget.from_cost_matrix(np.ones((2, 2), dtype=bool), None, [1, np.nan], 3),
            "costs",
        ),
        (lambda: Budget.from_cost_matrix(np.ones((2, 2), dtype=bool), None, [1], 3), "costs"),
        (lambda: Budget.from_cost_matrix(np.ones((2, 2), dtype=bool), None, None, 3), "costs"),
        (lambda: Budget.from_cost_matrix(np.ones((2, 2), dtype=bool), None, [1, 1], -3), "budget"),
        (lambda: LSCP.from_cost_matrix(np.ones((2, 2), dtype=bool), None, 0.0), "target_share"),
        (lambda: LSCP.from_cost_matrix(np.ones((2, 2), dtype=bool), None, 1.2), "target_share"),
        (
            lambda: MCLP.from_cost_matrix(np.ones((2, 2), dtype=bool), None, 1).solve("magic"),
            "solver",
        ),
    ],
)
def test_bad_input(make, field):
    with pytest.raises(ValidationError) as err:
        make()
    assert err.value.field == field
    assert err.value.message


def test_coverage_matrix_crowfly_matches_pairwise_distances():
    rng = np.random.default_rng(42)
    d_lon, d_lat = 116 + rng.random(300) * 0.5, 39.5 + rng.random(300) * 0.5
    c_lon, c_lat = 116 + rng.random(25) * 0.5, 39.5 + rng.random(25) * 0.5
    model = CrowflyModel("ebike")
    covers = coverage_matrix_crowfly(d_lon, d_lat, c_lon, c_lat, model, 15)
    assert covers.shape == (300, 25)
    assert covers.dtype == bool
    # Reference: haversine distances for every pair.
    lon1, lat1 = np.radians(d_lon)[:, None], np.radians(d_lat)[:, None]
    lon2, lat2 = np.radians(c_lon)[None, :], np.radians(c_lat)[None, :]
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))
    minutes = model.minutes_for(dist)
    expected = minutes <= 15
    borderline = np.abs(minutes - 15) < 1e-3
    assert ((covers.toarray() == expected) | borderline).all()
    assert covers.nnz > 0
    # The same matrix drives a plan; nearest-station times agree with "covered".
    plan = MCLP.from_cost_matrix(covers, None, 3).solve()
    times = model.time_to_nearest(d_lon, d_lat, c_lon[plan.chosen], c_lat[plan.chosen], 15)
    assert np.isfinite(times.minutes).sum() == pytest.approx(plan.objective, abs=1)


def test_plan_to_dict_is_json_ready():
    import json

    covers, weights, covered, _ = instance(42)
    plan = MCLP.from_cost_matrix(covers, weights, 2, covered).solve()
    d = json.loads(json.dumps(plan.to_dict()))
    assert d["problem"] == "mclp"
    assert len(d["chosen"]) == len(d["gains"])


@pytest.mark.parametrize("seed", SEEDS)
def test_lagrangian_bound_is_valid(seed):
    from geo.plan.bounds import _lagrangian_bound

    covers, weights, covered, costs = instance(seed)
    for p in (2, 4):
        problem = MCLP.from_cost_matrix(covers, weights, p, covered)
        red = problem.reduced
        opt = brute_mclp(covers, weights, covered, p) - red.before
        greedy = problem.solve("greedy")
        bound = _lagrangian_bound(red, greedy.objective - red.before, p=p)
        assert bound >= opt - 1e-6
    problem = Budget.from_cost_matrix(covers, weights, costs, 7.0, covered)
    red = problem.reduced
    opt = brute_budget(covers, weights, covered, costs, 7.0) - red.before
    bound = _lagrangian_bound(red, 0.0, costs=costs, budget=7.0)
    assert bound >= opt - 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_local_search_never_worsens_and_keeps_limits(seed):
    covers, weights, covered, costs = instance(seed, m=60, n=12, density=0.15)
    for p in (2, 3, 5):
        problem = MCLP.from_cost_matrix(covers, weights, p, covered)
        plain = problem.solve("greedy", improve=False)
        better = problem.solve("greedy", improve=True)
        check_plan(better, covers, weights, covered)
        assert better.objective >= plain.objective - TOL
        assert len(better.chosen) <= p
        assert better.stats["greedy_objective"] == pytest.approx(plain.objective)
        opt = brute_mclp(covers, weights, covered, p)
        assert better.objective <= opt + TOL
        assert better.bound >= opt - 1e-6
    for budget in (4.0, 9.0):
        problem = Budget.from_cost_matrix(covers, weights, costs, budget, covered)
        plain = problem.solve("greedy", improve=False)
        better = problem.solve("greedy", improve=True)
        check_plan(better, covers, weights, covered)
        assert better.objective >= plain.objective - TOL
        assert better.cost <= budget + 1e-9
        opt = brute_budget(covers, weights, covered, costs, budget)
        assert better.objective <= opt + TOL
        assert better.bound >= opt - 1e-6


def test_local_search_escapes_a_greedy_trap():
    # Greedy takes the big middle site first; the two side sites together cover more.
    covers = np.zeros((6, 3), dtype=bool)
    covers[0:4, 0] = True  # middle: rows 0-3
    covers[[0, 1, 4], 1] = True
    covers[[2, 3, 5], 2] = True
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.9])
    problem = MCLP.from_cost_matrix(covers, weights, 2)
    plain = problem.solve("greedy", improve=False)
    better = problem.solve("greedy")
    assert plain.objective == pytest.approx(4.9)
    assert better.objective == pytest.approx(5.8)
    assert sorted(better.chosen.tolist()) == [1, 2]
    assert better.stats["local_search_moves"] >= 1


@needs_highs
@pytest.mark.parametrize("seed", SEEDS)
def test_interior_point_dual_bound_is_valid(seed):
    from geo.plan.bounds import _lagrangian_value
    from geo.plan.milp import _highs_solve

    covers, weights, covered, costs = instance(seed)
    for p in (2, 4):
        problem = MCLP.from_cost_matrix(covers, weights, p, covered)
        red = problem.reduced
        opt = brute_mclp(covers, weights, covered, p) - red.before
        lp = _highs_solve(red, "mclp", p=p, relax=True, ipm=True, time_limit_s=10)
        assert lp.row_dual is not None
        assert _lagrangian_value(red, lp.row_dual, p=p) >= opt - 1e-6
        exact_lp = _highs_solve(red, "mclp", p=p, relax=True, time_limit_s=10)
        assert _lagrangian_value(red, lp.row_dual, p=p) == pytest.approx(exact_lp.bound, rel=1e-4)
    problem = Budget.from_cost_matrix(covers, weights, costs, 7.0, covered)
    red = problem.reduced
    opt = brute_budget(covers, weights, covered, costs, 7.0) - red.before
    lp = _highs_solve(red, "budget", costs=costs, budget=7.0, relax=True, ipm=True)
    assert _lagrangian_value(red, lp.row_dual, costs=costs, budget=7.0) >= opt - 1e-6
    # Any λ (even garbage) is clipped into [0, w] and stays a valid bound.
    rng = np.random.default_rng(seed)
    lam = rng.normal(0, 50, len(red.w))
    assert _lagrangian_value(red, lam, costs=costs, budget=7.0) >= opt - 1e-6


# -- the travel protocol's pairwise minutes, building apart from solving -------------------


def haversine_m(d_lon, d_lat, c_lon, c_lat) -> np.ndarray:
    lon1, lat1 = np.radians(d_lon)[:, None], np.radians(d_lat)[:, None]
    lon2, lat2 = np.radians(c_lon)[None, :], np.radians(c_lat)[None, :]
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


@pytest.mark.parametrize(
    ("mode", "speed_kph", "circuity", "limit"),
    [("walk", None, 1.3, 30.0), ("ebike", 12.0, 1.6, 10.0), ("car", None, 1.0, 5.0)],
)
def test_crowfly_pair_minutes_against_brute_force(mode, speed_kph, circuity, limit):
    from geo.travel import PairMinutes

    rng = np.random.default_rng(7)
    d_lon, d_lat = 109.3 + rng.random(400) * 0.2, 24.2 + rng.random(400) * 0.2
    c_lon, c_lat = 109.3 + rng.random(30) * 0.2, 24.2 + rng.random(30) * 0.2
    d_lon[0], d_lat[0] = c_lon[0], c_lat[0]  # a pair at 0 minutes is kept
    model = CrowflyModel(mode, speed_kph=speed_kph, circuity=circuity)
    pairs = model.pair_minutes(d_lon, d_lat, c_lon, c_lat, limit)
    assert isinstance(pairs, PairMinutes)
    got = np.full((400, 30), np.inf)
    got[pairs.origin, pairs.destination] = pairs.minutes
    keys = set(zip(pairs.origin.tolist(), pairs.destination.tolist(), strict=True))
    assert len(keys) == len(pairs.minutes)  # no pair twice
    # minutes = great-circle metres × circuity ÷ speed, written out here
    speed_mpm = (speed_kph or {"walk": 4.5, "ebike": 15.0, "car": 30.0}[mode]) * 1000 / 60
    want = haversine_m(d_lon, d_lat, c_lon, c_lat) * circuity / speed_mpm
    border = np.abs(want - limit) < 1e-6
    inside = want <= limit
    assert ((np.isfinite(got) == inside) | border).all()
    ok = np.isfinite(got) & inside
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-7, atol=1e-9)
    assert got[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert 0 < ok.sum() < ok.size
    # empty inputs and a bad limit
    assert len(model.pair_minutes([], [], c_lon, c_lat, limit).minutes) == 0
    assert len(model.pair_minutes(d_lon, d_lat, [], [], limit).minutes) == 0
    with pytest.raises(ValidationError, match="max_minutes"):
        model.pair_minutes(d_lon, d_lat, c_lon, c_lat, 0)


def test_coverage_matrix_needs_a_travel_model():
    class NotAModel:
        name = "teleport"

    with pytest.raises(ValidationError, match="not a travel model") as err:
        coverage_matrix([109.4], [24.3], [109.4], [24.3], NotAModel(), 10)
    assert err.value.field == "model"


def snapshot(obj):
    """Every attribute of a problem, deeply copied (sparse matrices as dense arrays)."""
    import copy

    out = {}
    for key, value in vars(obj).items():
        if key == "_red":
            value = {k: getattr(value, k) for k in ("A", "AT", "w", "before", "total", "stats")}
            value = {
                k: v.toarray() if sp.issparse(v) else copy.deepcopy(v) for k, v in value.items()
            }
        elif sp.issparse(value):
            value = (value.toarray(), value.indptr.copy(), value.indices.copy())
        else:
            value = copy.deepcopy(value)
        out[key] = value
    return out


def assert_same(a, b, path="problem"):
    assert type(a) is type(b), path
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{k}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), path
    else:
        assert a == b or (a != a and b != b), path


def plan_key(plan):
    return (
        plan.chosen.tolist(),
        plan.gains.tolist(),
        plan.objective,
        plan.bound,
        plan.gap,
        plan.bound_source,
        plan.status,
        plan.solver,
        plan.messages,
        plan.mean_minutes,
    )


@pytest.mark.parametrize("kind", ["mclp", "lscp", "budget", "capacity"])
def test_solve_leaves_the_problem_unchanged(kind):
    rng = np.random.default_rng(3)
    m, n = 80, 12
    covers = rng.random((m, n)) < 0.2
    minutes = np.where(covers, rng.uniform(1, 15, (m, n)), 0.0)
    weights = rng.integers(1, 9, m).astype(float)
    covered = rng.random(m) < 0.15
    existing = np.where(covered, rng.uniform(1, 15, m), np.inf)
    opts = {"minutes": minutes, "existing_minutes": existing, "admin": {"county": ["x"] * m}}
    if kind == "mclp":
        problem = MCLP.from_cost_matrix(covers, weights, 3, covered, **opts)
    elif kind == "lscp":
        problem = LSCP.from_cost_matrix(covers, weights, 0.5, covered, **opts)
    elif kind == "budget":
        costs = rng.integers(1, 4, n).astype(float)
        problem = Budget.from_cost_matrix(covers, weights, costs, 5.0, covered, **opts)
    else:
        problem = MCLP.from_cost_matrix(covers, weights, 3, covered, capacity=20, **opts)
    before = snapshot(problem)
    solvers = ["greedy", "exact"] if highs_available() else ["greedy"]
    tie = "mean-time" if highs_available() else None
    for solver in solvers:
        for improve in (False, True):
            first = problem.solve(solver, improve=improve, tie_break=tie)
            assert_same(snapshot(problem), before)
            second = problem.solve(solver, improve=improve, tie_break=tie)
            assert_same(snapshot(problem), before)
            assert plan_key(first) == plan_key(second)


def test_admin_codes_through_the_constructor():
    covers = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=bool)
    weights = np.array([5.0, 3.0, 2.0, 4.0])
    admin = {"county": ["450202", "450202", "450203", "450203"]}
    problem = MCLP.from_cost_matrix(covers, weights, 1, admin=admin)
    assert list(problem.admin) == ["county"]
    assert problem.admin["county"].tolist() == admin["county"]
    plan = problem.solve()
    by = plan.by_admin("county").set_index("code")
    assert by.loc["450202", "covered_after"] == 8.0 and by.loc["450203", "covered_after"] == 0.0
    assert by["demand"].sum() == weights.sum()
    for cls, args in ((LSCP, (0.5,)), (Budget, ([1.0, 1.0], 1.0))):
        p = cls.from_cost_matrix(covers, weights, *args, admin=admin)
        assert "by_county" in p.solve().to_dict()
    with pytest.raises(ValidationError, match="demand rows") as err:
        MCLP.from_cost_matrix(covers, weights, 1, admin={"county": ["450202"]})
    assert err.value.field == "admin"
    with pytest.raises(ValidationError) as err:
        MCLP.from_cost_matrix(covers, weights, 1, admin=["450202"] * 4)
    assert err.value.field == "admin"
    assert MCLP.from_cost_matrix(covers, weights, 1).admin == {}
