"""Location-allocation: where to put new stations, with the existing ones fixed (DESIGN §6).

This module owns the planner's matrix core (STYLE practice 6, after spopt
``locate/coverage.py``): a boolean *coverage matrix* ``covers`` (demand × candidate,
``covers[i, j]`` = candidate ``j`` would reach demand point ``i`` within the time limit), a
weight per demand point, and a mask of demand already covered by existing stations. Three
problems are built on it, each with ``from_cost_matrix(...)`` and ``solve(...)``:

* :class:`MCLP` — maximal covering: the best ``p`` new sites;
* :class:`LSCP` — set covering: the fewest sites that reach ``target_share`` of all weight;
* :class:`Budget` — the best sites whose summed cost stays within a budget.

Two solvers: ``"greedy"`` (lazy greedy, a priority queue of stale gains; ≥ (1 − 1/e) of the
optimum for MCLP, ≥ ½(1 − 1/e) for the budget variant with the best-single-site safeguard)
and ``"exact"`` (a MILP solved by HiGHS through ``highspy``, warm-started from greedy, with a
time limit; on timeout the better of the incumbent and greedy is returned). MCLP/Budget
greedy is then polished by a best-improvement 1-swap local search (``improve=True``, the
default; it never lowers the objective). Every :class:`Plan` carries a proven bound and the
gap to it: greedy's bound is the best of a submodularity bound, a Lagrangian bound
(subgradient), the LP relaxation (HiGHS simplex, small reduced instances) and, on large ones
whose gap is still above ``GAP_TARGET``, HiGHS interior-point duals put into the Lagrangian
(valid for any duals, so also after a time-out); exact's is the MIP dual bound.

Before solving, demand already covered, demand that no candidate reaches and zero-weight
demand are dropped, and rows with identical cover sets are merged (weights summed). This
changes nothing in the answer and often shrinks the problem a lot. The exact MILP also fixes
dominated candidates (covering a subset of another's rows, at no lower cost) to 0, and with
whole-number weights stops as soon as the bound is less than 1 above the incumbent (which
proves it optimal).

Options, both through a facility-assignment MILP with variables only on the covering pairs
(:func:`_highs_assign`):

* ``capacity`` (MCLP, Budget): each new site serves at most its capacity of demand weight,
  each demand row served by at most one open site within reach (single assignment; rows are
  then not merged). Exact solves it; greedy is a heuristic (heaviest rows first) with an
  honest bound (capacities, LP relaxation), and says so.
* ``solve(tie_break="mean-time")``: a lexicographic second pass that keeps the covered weight
  and the limit (p, budget, number of sites) and minimises the demand-weighted minutes to the
  serving site (nearest chosen or existing station). Needs the ``minutes`` matrix.

The geo front doors: :func:`coverage_matrix` (coverage and minutes for the crow-fly model
or the road network, per candidate) and the problems' ``from_geodataframe``
(GeoDataFrames in any CRS, existing stations, capacities and admin codes, in the manner of
spopt's ``MCLP.from_geodataframe``).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from geo.errors import ValidationError
from geo.index import chord_to_m, lonlat_to_xyz, m_to_chord

try:  # optional: the exact solver and LP bounds
    import highspy
except ImportError:  # pragma: no cover - exercised only without highspy
    highspy = None

__all__ = [
    "LSCP",
    "MCLP",
    "Budget",
    "Plan",
    "coverage_matrix",
    "coverage_matrix_crowfly",
    "highs_available",
]

SOLVERS = ("greedy", "exact")
#: Relative gap at which HiGHS may stop a MIP (tight: plans are small, answers compared).
MIP_REL_GAP = 1e-7
#: Seconds the greedy solver may spend on the LP-relaxation bound (HiGHS simplex).
LP_BOUND_TIME_LIMIT_S = 20.0
#: Above this many matrix entries (after reduction) greedy keeps the Lagrangian bound only:
#: the LP relaxation of large MCLPs is slow for simplex and the two bounds agree in the limit.
LP_BOUND_MAX_NNZ = 300_000
#: Above LP_BOUND_MAX_NNZ greedy asks HiGHS's interior-point LP (no crossover) for duals when
#: the Lagrangian gap exceeds this; its duals, clipped to [0, w], give a valid bound.
GAP_TARGET = 0.01
#: Seconds the interior-point LP bound may take (its duals are used even after a time-out).
IPM_BOUND_TIME_LIMIT_S = 60.0
#: Limits of the 1-swap local search that improves greedy (``solve(improve=True)``).
LOCAL_SEARCH_MAX_ITER = 500
LOCAL_SEARCH_MAX_S = 20.0
_ONE_MINUS_INV_E = 1.0 - 1.0 / math.e
#: Above this many matrix entries after reduction (demand-site pairs with capacities) the
#: exact MILP is not tried: greedy answers and the plan's messages say so.
EXACT_MAX_NNZ = 2_000_000
TIE_BREAKS = (None, "mean-time")
#: Demand columns carried onto :meth:`Plan.by_admin`, by level.
ADMIN_COLS = {"county": "county_code", "township": "township_code"}


def highs_available() -> bool:
    """Whether ``highspy`` (HiGHS) is importable: needed for ``solver="exact"`` and LP bounds."""
    return highspy is not None


# --------------------------------------------------------------------------------------------
# Geo front door
# --------------------------------------------------------------------------------------------


def coverage_matrix(
    demand_lon, demand_lat, cand_lon, cand_lat, model, max_minutes: float
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Demand × candidate coverage and travel minutes through any travel model.

    The crow-fly model (anything with ``reach_m``) pairs points with a KD-tree on the unit
    sphere; the road-network model (:class:`~geo.travel.network.NetworkModel`) runs one
    Dijkstra per candidate on the reversed road graph (worker → station, the direction of
    :meth:`~geo.travel.network.NetworkModel.time_to_nearest`), in blocks of candidates, with
    the same snapping and off-network walking legs, so the minutes of a pair equal what the
    model's ``time_to_nearest`` gives for that single station.

    Parameters
    ----------
    demand_lon, demand_lat, cand_lon, cand_lat
        WGS-84 degrees (arrays).
    model
        A travel model from :mod:`geo.travel`.
    max_minutes
        The travel-time limit.

    Returns
    -------
    covers, minutes
        ``covers``: ``bool`` csr, ``covers[i, j]`` when candidate ``j`` is within
        ``max_minutes`` of demand ``i``. ``minutes``: ``float`` csr with exactly the same
        ``indptr``/``indices`` (explicit zeros kept) holding the minutes of each covered pair.
    """
    if not max_minutes > 0:
        raise ValidationError("max_minutes must be > 0", field="max_minutes")
    d_lon, d_lat = _lonlat(demand_lon, demand_lat, "demand")
    c_lon, c_lat = _lonlat(cand_lon, cand_lat, "candidates")
    m, n = len(d_lon), len(c_lon)
    if n == 0 or m == 0:
        rows = cols = np.zeros(0, dtype=np.int64)
        mins = np.zeros(0)
    elif hasattr(model, "reach_m"):
        rows, cols, mins = _crowfly_pairs(d_lon, d_lat, c_lon, c_lat, model, max_minutes)
    elif hasattr(model, "graph") and hasattr(model, "snap"):
        rows, cols, mins = _network_pairs(d_lon, d_lat, c_lon, c_lat, model, max_minutes)
    else:
        raise ValidationError(
            f"model {getattr(model, 'name', model)!r} cannot give a planning matrix: use the "
            "crow-fly or the road-network model",
            field="model",
        )
    order = np.lexsort((cols, rows))
    rows, cols, mins = rows[order], cols[order], mins[order]
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    covers = sp.csr_matrix((np.ones(len(rows), dtype=bool), cols, indptr), shape=(m, n))
    minutes = sp.csr_matrix((mins.astype(np.float64), cols, indptr), shape=(m, n))
    return covers, minutes


def coverage_matrix_crowfly(
    demand_lon, demand_lat, cand_lon, cand_lat, model, max_minutes: float
) -> sp.csr_matrix:
    """Boolean demand × candidate matrix: candidate within ``max_minutes`` by crow-fly.

    The ``covers`` half of :func:`coverage_matrix` for a model with ``reach_m`` (great-circle
    metres), e.g. :class:`~geo.travel.crowfly.CrowflyModel`; ``bool``, shape
    ``(n_demand, n_candidates)``, sorted column indices per row.
    """
    if not hasattr(model, "reach_m"):
        raise ValidationError(
            f"model {getattr(model, 'name', model)!r} has no crow-fly reach; use "
            "coverage_matrix() for road-network models",
            field="model",
        )
    return coverage_matrix(demand_lon, demand_lat, cand_lon, cand_lat, model, max_minutes)[0]


def _lonlat(lon, lat, what: str) -> tuple[np.ndarray, np.ndarray]:
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64)).ravel()
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64)).ravel()
    if lon.shape != lat.shape:
        raise ValidationError(f"{what}: lon and lat arrays differ in length", field="lon")
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ValidationError(f"{what}: coordinates must be finite numbers", field="lon")
    return lon, lat


def _crowfly_pairs(d_lon, d_lat, c_lon, c_lat, model, max_minutes: float):
    radius = m_to_chord(float(model.reach_m(max_minutes)) * 1.0000001)
    cand_tree = cKDTree(lonlat_to_xyz(c_lon, c_lat).reshape(-1, 3))
    dem_tree = cKDTree(lonlat_to_xyz(d_lon, d_lat).reshape(-1, 3))
    # Sparse distance matrix between the two trees: vectorised, no per-point Python loop
    # (pairs at distance 0 are kept).
    dist = dem_tree.sparse_distance_matrix(cand_tree, radius, output_type="coo_matrix")
    mins = np.asarray(model.minutes_for(chord_to_m(dist.data)), dtype=np.float64)
    return dist.row.astype(np.int64), dist.col.astype(np.int64), mins


#: Float64 cells per Dijkstra block of the network matrix (candidates × graph nodes).
NETWORK_BLOCK_CELLS = 8_000_000


def _network_pairs(d_lon, d_lat, c_lon, c_lat, model, max_minutes: float):
    from scipy.sparse.csgraph import dijkstra

    limit = float(max_minutes) * 60.0
    walk_mps = float(model.walk_kph) / 3.6
    d_node, d_m = model.snap(d_lon, d_lat)
    c_node, c_m = model.snap(c_lon, c_lat)
    d_s, c_s = d_m / walk_mps, c_m / walk_mps
    dem = np.flatnonzero((d_node >= 0) & (d_s <= limit))
    cand = np.flatnonzero((c_node >= 0) & (c_s <= limit))
    empty = np.zeros(0, dtype=np.int64)
    if len(dem) == 0 or len(cand) == 0:
        return empty, empty, np.zeros(0)
    nodes, inv = np.unique(d_node[dem], return_inverse=True)
    rev = model.graph.reverse
    block = max(1, NETWORK_BLOCK_CELLS // max(model.graph.n_nodes, len(dem), 1))
    rows, cols, secs = [], [], []
    for start in range(0, len(cand), block):
        js = cand[start : start + block]
        # seconds from every node to each candidate's node (reversed graph = worker → station)
        dist = dijkstra(rev, directed=True, indices=c_node[js], limit=limit - float(c_s[js].min()))
        t = dist[:, nodes][:, inv] + c_s[js][:, None] + d_s[dem][None, :]
        jj, ii = np.nonzero(t <= limit)
        rows.append(dem[ii])
        cols.append(js[jj])
        secs.append(t[jj, ii])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(secs) / 60.0


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """The answer to a planning problem.

    Attributes
    ----------
    problem
        ``"mclp"``, ``"lscp"`` or ``"budget"``.
    solver
        The solver whose answer this is (``"greedy"`` or ``"exact"``); after a fallback it
        says ``"greedy"`` and ``messages`` says why.
    status
        ``"optimal"`` (proven: bound met), ``"feasible"`` (a solution, gap in ``gap``) or
        ``"infeasible"`` (LSCP target out of reach: the plan reaches ``best_share`` instead).
    chosen
        Candidate indices (into the candidates given), in the order they were added: each
        the best next site given the ones before it.
    gains
        Covered weight each chosen site adds, in the same order; sums to
        ``covered_after − covered_before``. After a mean-time tie-break a site may add 0:
        it covers nothing new but serves demand faster (listed last).
    objective
        Covered weight with the plan (existing stations included) = ``covered_after``.
    covered_before, covered_after, total_weight
        Covered weight by existing stations alone, with the plan, and all demand weight.
    bound, gap
        A proven bound and the relative gap to it. MCLP/Budget: an upper bound on
        ``covered_after``; ``gap = (bound − objective) / (bound − covered_before)`` (the gap
        on *new* coverage, 0 when nothing can be added). LSCP: a lower bound on the number of
        sites; ``gap = (len(chosen) − bound) / len(chosen)``.
    bound_source
        How the bound was proven: ``"lp"``, ``"lp-dual"`` (interior-point LP duals put into
        the Lagrangian), ``"lagrangian"``, ``"mip"``, ``"submodular"``, ``"capacity"``
        (capacity plans: the best ``p`` of min(capacity, reachable weight)) or ``"trivial"``.
    cost
        Summed cost of the chosen sites (Budget only).
    best_share
        LSCP: the largest share all candidates together can reach.
    run_time_s
        Wall time of ``solve`` in seconds.
    messages
        What a user should know: caps, fallbacks, time-outs, infeasibility.
    stats
        Problem size before and after reduction.
    mean_minutes
        Demand-weighted mean travel minutes of the covered demand to its serving site (the
        nearest chosen or existing one; with capacities, the site it is assigned to). Known
        only when the problem was given travel minutes; demand covered by existing stations
        counts only when their minutes were given too (``existing_minutes``).
    assignment
        Capacity plans: per demand row, the chosen candidate serving it, ``-1`` for none (or
        an existing station). ``None`` without capacities.
    tie_break
        ``"mean-time"`` when a second pass minimised travel time among plans covering as
        much, else ``None``.
    """

    problem: str
    solver: str
    status: str
    chosen: np.ndarray
    gains: np.ndarray
    objective: float
    covered_before: float
    covered_after: float
    total_weight: float
    bound: float
    gap: float
    bound_source: str
    run_time_s: float = 0.0
    cost: float | None = None
    best_share: float | None = None
    messages: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    mean_minutes: float | None = None
    assignment: np.ndarray | None = field(default=None, repr=False)
    tie_break: str | None = None
    #: Per demand row (the rows given): weight, covered before / after, minutes to the
    #: serving site (NaN where unknown or not covered), admin codes by level.
    rows: dict = field(default_factory=dict, repr=False)

    @property
    def share_before(self) -> float:
        return self.covered_before / self.total_weight if self.total_weight > 0 else math.nan

    @property
    def share_after(self) -> float:
        return self.covered_after / self.total_weight if self.total_weight > 0 else math.nan

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "problem": self.problem,
            "solver": self.solver,
            "status": self.status,
            "chosen": [int(j) for j in self.chosen],
            "gains": [float(g) for g in self.gains],
            "objective": self.objective,
            "covered_before": self.covered_before,
            "covered_after": self.covered_after,
            "total_weight": self.total_weight,
            "share_before": self.share_before,
            "share_after": self.share_after,
            "bound": self.bound,
            "gap": self.gap,
            "bound_source": self.bound_source,
            "cost": self.cost,
            "best_share": self.best_share,
            "run_time_s": self.run_time_s,
            "messages": list(self.messages),
            "stats": dict(self.stats),
            "mean_minutes": self.mean_minutes,
            "tie_break": self.tie_break,
            **{
                f"by_{level}": self.by_admin(level).to_dict(orient="records")
                for level in self.rows.get("admin", {})
            },
        }

    def by_admin(self, level: str = "county"):
        """Coverage before and after the plan per admin unit (``county`` or ``township``).

        Needs the demand's admin codes (``from_geodataframe`` carries ``county_code`` and
        ``township_code`` when the demand frame has them). Columns: ``code, name, demand,
        covered_before, covered_after, gain, share_before, share_after, mean_minutes`` (the
        last when travel minutes are known).
        """
        import pandas as pd

        codes = self.rows.get("admin", {}).get(level)
        if codes is None:
            have = ", ".join(self.rows.get("admin", {})) or "none"
            raise ValidationError(
                f"the plan has no {level} codes (demand without them); have: {have}",
                field="by",
            )
        from geo.gazetteer import default_gazetteer

        w = self.rows["weights"]
        t = self.rows["minutes"]
        frame = pd.DataFrame(
            {
                "code": pd.Series(codes, dtype=object).fillna("").astype(str).to_numpy(),
                "demand": w,
                "covered_before": np.where(self.rows["covered_before"], w, 0.0),
                "covered_after": np.where(self.rows["covered_after"], w, 0.0),
                "wt": np.where(np.isfinite(t), w * np.nan_to_num(t), 0.0),
                "wk": np.where(np.isfinite(t), w, 0.0),
            }
        )
        out = frame.groupby("code", sort=True).sum().reset_index()
        g = default_gazetteer()
        out.insert(1, "name", [(u.name if (u := g.get(c)) else "") if c else "" for c in out.code])
        out["gain"] = out["covered_after"] - out["covered_before"]
        dem = out["demand"].where(out["demand"] > 0)
        out["share_before"] = out["covered_before"] / dem
        out["share_after"] = out["covered_after"] / dem
        out["mean_minutes"] = out["wt"] / out["wk"].where(out["wk"] > 0)
        out = out.drop(columns=["wt", "wk"])
        return out.astype(object).where(out.notna(), None)


# --------------------------------------------------------------------------------------------
# Reduction
# --------------------------------------------------------------------------------------------


@dataclass
class _Reduced:
    A: sp.csr_matrix  # reduced demand × candidate (bool)
    AT: sp.csr_matrix  # candidate × reduced demand
    w: np.ndarray  # weights of merged rows
    before: float
    total: float
    reachable: float  # weight coverable by all candidates together (new coverage only)
    stats: dict


def _reduce(covers: sp.csr_matrix, weights: np.ndarray, covered: np.ndarray) -> _Reduced:
    m, n = covers.shape
    total = float(weights.sum())
    before = float(weights[covered].sum())
    row_nnz = np.diff(covers.indptr)
    keep = ~covered & (weights > 0) & (row_nnz > 0)
    A = covers[np.flatnonzero(keep)]
    w = weights[keep]
    A.sort_indices()
    # Merge identical rows: hash each row by two random projections and its length, then
    # verify exactly that every row equals its group's representative.
    if A.shape[0] > 1:
        rng = np.random.default_rng(12345)
        r = rng.random((n, 2))
        h = A.astype(np.float64) @ r
        key = np.column_stack([np.diff(A.indptr).astype(np.float64), h])
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        rep = A[first][inverse]
        if (rep != A).nnz == 0:
            w = np.bincount(inverse, weights=w, minlength=len(first))
            A = A[first]
        # else: a hash collision (practically never): keep rows unmerged, still correct.
    A = sp.csr_matrix(A, dtype=bool)
    A.sort_indices()
    AT = sp.csr_matrix(A.T, dtype=bool)
    AT.sort_indices()
    stats = {
        "demand": int(m),
        "candidates": int(n),
        "demand_already_covered": int(covered.sum()),
        "demand_unreachable": int(((row_nnz == 0) & ~covered).sum()),
        "demand_rows_solved": int(A.shape[0]),
        "nnz": int(A.nnz),
    }
    return _Reduced(A, AT, w, before, total, float(w.sum()), stats)


# --------------------------------------------------------------------------------------------
# Lazy greedy
# --------------------------------------------------------------------------------------------


def _lazy_greedy(
    red: _Reduced,
    *,
    k_max: int | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    need: float | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[list[int], list[float]]:
    """Greedy by marginal gain (or gain / cost) with a heap of stale, upper-bounding keys.

    Stops at ``k_max`` sites, when ``need`` weight is covered, or when no allowed and
    affordable site adds anything. Gains of a submodular function only shrink, so a stale key
    is an upper bound and a site whose fresh key beats every stale key is the true best.
    """
    AT, w = red.AT, red.w
    uncovered = np.ones(len(w), dtype=bool)
    indptr, indices = AT.indptr, AT.indices
    gains0 = np.asarray(AT @ w).ravel() if len(w) else np.zeros(AT.shape[0])
    n = AT.shape[0]
    cand = np.arange(n) if allowed is None else np.flatnonzero(allowed)
    remaining = math.inf if budget is None else float(budget)

    def key_of(g: float, j: int) -> float:
        if costs is None:
            return g
        c = costs[j]
        return g / c if c > 0 else (math.inf if g > 0 else 0.0)

    heap = [(-key_of(float(gains0[j]), int(j)), int(j)) for j in cand if gains0[j] > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    got = 0.0
    while heap:
        if k_max is not None and len(chosen) >= k_max:
            break
        if need is not None and got >= need:
            break
        _, j = heapq.heappop(heap)
        if costs is not None and costs[j] > remaining:
            continue  # never affordable again: the remaining budget only shrinks
        rows = indices[indptr[j] : indptr[j + 1]]
        live = rows[uncovered[rows]]
        g = float(w[live].sum())
        if g <= 0:
            continue  # gains only shrink: drop for good
        k = key_of(g, j)
        if heap and k < -heap[0][0]:
            heapq.heappush(heap, (-k, j))
            continue
        chosen.append(j)
        gains.append(g)
        got += g
        uncovered[live] = False
        if costs is not None:
            remaining -= costs[j]
    return chosen, gains


def _order(red: _Reduced, sites) -> tuple[list[int], list[float]]:
    """Order a fixed set of sites greedily (best next first); drop sites adding nothing."""
    allowed = np.zeros(red.AT.shape[0], dtype=bool)
    allowed[list(sites)] = True
    return _lazy_greedy(red, allowed=allowed)


def _coverage_of(red: _Reduced, sites) -> float:
    if len(sites) == 0 or len(red.w) == 0:
        return 0.0
    hit = np.asarray(red.A[:, list(sites)].sum(axis=1)).ravel() > 0
    return float(red.w[hit].sum())


def _local_search(
    red: _Reduced,
    sites,
    *,
    p: int | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    max_iter: int = LOCAL_SEARCH_MAX_ITER,
    max_s: float = LOCAL_SEARCH_MAX_S,
) -> tuple[list[int], int]:
    """Best-improvement 1-swap (and add) local search; returns (sites, moves made).

    Per round, with ``cnt_i`` the number of chosen sites covering row ``i``: the loss of
    dropping chosen ``j`` is the weight only ``j`` covers, the gain of adding ``k`` the
    uncovered weight ``k`` reaches, and a swap ``j → k`` changes coverage by
    ``gain_k − loss_j + (weight covered only by j that k also covers)``: the last term for
    all pairs is one sparse product ``Aᵀ U`` (``U``: rows covered only by each chosen site).
    Moves keep ``len(sites) ≤ p`` or the cost within ``budget``; the objective never drops.
    """
    S = [int(j) for j in sites]
    A_T, w = red.AT, red.w
    n = A_T.shape[0]
    m = len(w)
    if m == 0 or n == 0:
        return S, 0
    ATf = sp.csr_matrix(A_T, dtype=np.float64)
    tol = 1e-9 * max(red.total, 1.0)
    t0 = time.perf_counter()
    moves = 0
    for _ in range(max_iter):
        if time.perf_counter() - t0 > max_s:
            break
        k = len(S)
        if k:
            sub = ATf[S]
            cnt = np.asarray(sub.sum(axis=0)).ravel()
            owner = np.asarray(sub.T @ np.arange(k, dtype=np.float64)).ravel()
            uniq = np.flatnonzero(cnt == 1)
            own = np.rint(owner[uniq]).astype(np.int64)
            U = sp.csr_matrix((w[uniq], (uniq, own)), shape=(m, k))
            loss = np.bincount(own, weights=w[uniq], minlength=k)
        else:
            cnt = np.zeros(m)
        gain = ATf @ (w * (cnt == 0))
        gain[S] = -np.inf
        # Add moves (room left under p or the budget).
        if costs is None:
            can_add = p is None or k < p
            add_ok = np.full(n, can_add)
        else:
            left = float(budget) - float(costs[S].sum())
            add_ok = costs <= left + 1e-12 * max(abs(float(budget)), 1.0)
        add = np.where(add_ok, gain, -np.inf)
        best_add = int(np.argmax(add))
        best_swap, best_val = None, add[best_add]
        if k:
            delta = gain[:, None] - loss[None, :] + (ATf @ U).toarray()
            if costs is not None:
                left = float(budget) - float(costs[S].sum())
                ok = costs[:, None] - costs[S][None, :] <= left + 1e-12 * max(abs(budget), 1.0)
                delta[~ok] = -np.inf
            flat = int(np.argmax(delta))
            if delta.flat[flat] > best_val:
                best_swap = np.unravel_index(flat, delta.shape)
                best_val = delta.flat[flat]
        if not best_val > tol:
            break
        if best_swap is None:
            S.append(best_add)
        else:
            S[int(best_swap[1])] = int(best_swap[0])
        moves += 1
    return S, moves


# --------------------------------------------------------------------------------------------
# Lagrangian bound (no solver needed; equals the LP bound at convergence)
# --------------------------------------------------------------------------------------------


def _fractional_knapsack(value: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    """x in [0, 1] maximising value·x with costs·x ≤ budget (greedy by value/cost)."""
    x = np.zeros(len(value))
    pos = value > 0
    free = pos & (costs <= 0)
    x[free] = 1.0
    idx = np.flatnonzero(pos & ~free)
    if len(idx) == 0:
        return x
    order = idx[np.argsort(-value[idx] / costs[idx], kind="stable")]
    cum = np.cumsum(costs[order])
    full = cum <= budget
    x[order[full]] = 1.0
    k = int(full.sum())
    if k < len(order):
        left = budget - (cum[k - 1] if k else 0.0)
        x[order[k]] = max(0.0, left / costs[order[k]])
    return x


def _lagrangian_value(
    red: _Reduced,
    lam: np.ndarray,
    *,
    p: int | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
) -> float:
    """``Σ_i (w_i − λ_i)⁺ + max_x (Aᵀλ)·x``: an upper bound on new coverage for any λ ≥ 0."""
    lam = np.clip(np.nan_to_num(lam, nan=0.0, posinf=0.0, neginf=0.0), 0.0, red.w)
    c = np.asarray(red.AT @ lam).ravel()
    if costs is None:
        k = min(int(p), len(c))
        top = float(np.sort(c)[::-1][:k].sum()) if k else 0.0
    else:
        top = float(c @ _fractional_knapsack(c, costs, float(budget)))
    return float(np.maximum(red.w - lam, 0.0).sum()) + top


def _lagrangian_bound(
    red: _Reduced,
    lower: float,
    *,
    p: int | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    max_iter: int = 300,
    max_s: float = 10.0,
) -> float:
    """Upper bound on new coverage by relaxing ``y_i ≤ Σ_j a_ij x_j`` with λ in [0, w].

    For any such λ, ``Σ_i (w_i − λ_i) + max_x Σ_j (Aᵀλ)_j x_j`` (x under the side constraint,
    relaxed to [0, 1]) bounds the optimum. Subgradient descent with Polyak steps toward the
    greedy value ``lower``.
    """
    A, AT, w = red.A, red.AT, red.w
    if len(w) == 0:
        return 0.0
    lam = w.copy()
    best = math.inf
    theta, stall = 2.0, 0
    t0 = time.perf_counter()
    for _ in range(max_iter):
        c = np.asarray(AT @ lam).ravel()
        if costs is None:
            x = np.zeros(len(c))
            k = min(int(p), len(c))
            if k:
                x[np.argpartition(-c, k - 1)[:k]] = 1.0
        else:
            x = _fractional_knapsack(c, costs, float(budget))
        y = (w > lam).astype(float)
        val = float((w - lam)[y > 0].sum() + c @ x)
        if not math.isfinite(best) or val < best - 1e-12 * max(best, 1.0):
            best, stall = val, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        gap = best - lower
        if gap <= 1e-9 * max(lower, 1.0) or theta < 1e-4 or time.perf_counter() - t0 > max_s:
            break
        g = np.asarray(A @ x).ravel() - y
        norm = float(g @ g)
        if norm == 0:
            break
        lam = np.clip(lam - theta * (val - lower) / norm * g, 0.0, w)
    return best


# --------------------------------------------------------------------------------------------
# HiGHS models
# --------------------------------------------------------------------------------------------


@dataclass
class _MipResult:
    sites: list[int] | None
    bound: float | None  # in the units of the reduced objective (unscaled)
    status: str  # "optimal" | "time_limit" | "infeasible" | "error"
    message: str = ""
    row_dual: np.ndarray | None = None  # LP only, interior point: duals of the cover rows


def _dominated(red: _Reduced, costs: np.ndarray | None = None) -> np.ndarray:
    """Candidates that an optimal plan never needs: covering no remaining demand, or covering
    a subset of another candidate's rows (at no lower cost). Identical candidates keep the
    lowest index (the cheapest first). Replacing a dominated site by its dominator never
    lowers coverage nor raises cost or count, so fixing them to 0 keeps an optimum."""
    AT = red.AT
    deg = np.diff(AT.indptr)
    out = deg == 0
    if AT.nnz == 0:
        return out
    Af = sp.csr_matrix(AT, dtype=np.int32)
    ov = (Af @ Af.T).tocoo()
    j, k, c = ov.row, ov.col, ov.data
    dom = (j != k) & (c == deg[j])  # rows(j) ⊆ rows(k)
    if costs is None:
        dom &= (deg[k] > deg[j]) | (k < j)
    else:
        cj, ck = costs[j], costs[k]
        dom &= (ck <= cj) & ((deg[k] > deg[j]) | (ck < cj) | (k < j))
    out[j[dom]] = True
    return out


#: From this many matrix entries on, exact MCLP first runs :func:`_mclp_bound_fixing`.
EXACT_PREP_MIN_NNZ = 20_000


def _mclp_bound_fixing(
    red: _Reduced, p: int, sites: list[int], gains: list[float], time_limit_s: float, stats: dict
) -> tuple[list[int], list[float], np.ndarray]:
    """Before the exact MCLP: a better incumbent, then candidates fixed by the Lagrangian bound.

    1. Interior-point LP duals λ (seconds, where dual simplex on the root LP of a large MCLP
       takes minutes) give per-candidate prices ``c = Aᵀλ`` and the bound ``L = Σ(w − λ)⁺ +
       top-p(c)``.
    2. A small MIP over the ``3p`` best-priced candidates plus the incumbent's sites (at most
       a fifth of the time limit), warm-started from the incumbent, usually finds the optimum.
    3. Forcing a candidate ``j`` outside the top p into the plan bounds every such plan by
       ``L_j = L − c_(p) + c_j`` (the same relaxation with ``x_j = 1``). Where ``L_j`` is below
       the incumbent (below incumbent + 1 with whole-number weights) no plan using ``j`` beats
       the incumbent, so ``j`` is fixed to 0: the MIP that follows still proves the optimum,
       and its bound stays valid for the full problem.

    Returns the (possibly better) incumbent in greedy order, its gains, and the fixed mask.
    """
    n = red.AT.shape[0]
    fix = np.zeros(n, dtype=bool)
    t0 = time.perf_counter()
    lp = _highs_solve(
        red,
        "mclp",
        p=p,
        relax=True,
        ipm=True,
        time_limit_s=min(IPM_BOUND_TIME_LIMIT_S, time_limit_s / 4),
    )
    if lp.row_dual is None:
        return sites, gains, fix
    lam = np.clip(np.nan_to_num(lp.row_dual), 0.0, red.w)
    c = np.asarray(red.AT @ lam).ravel()
    order = np.argsort(-c, kind="stable")
    k = min(p, n)
    cp = float(c[order[k - 1]])
    L = float(np.maximum(red.w - lam, 0.0).sum() + c[order[:k]].sum())
    kernel = np.zeros(n, dtype=bool)
    kernel[order[: 3 * k]] = True
    kernel[list(sites)] = True
    budget_s = max(1.0, time_limit_s / 5 - (time.perf_counter() - t0))
    res = _highs_solve(red, "mclp", p=p, time_limit_s=budget_s, warm=sites, fixed_off=~kernel)
    if res.sites is not None:
        k_sites, k_gains = _order(red, res.sites)
        if sum(k_gains) > sum(gains):
            sites, gains = k_sites, k_gains
    inc = float(sum(gains))
    integral = bool(np.all(red.w == np.round(red.w)))
    step = 1.0 - 1e-6 if integral else -1e-9 * max(red.total, 1.0)
    fix = (L - cp + c) < inc + step
    fix[order[:k]] = False
    fix[list(sites)] = False
    stats.update(
        {
            "lagrangian_bound": L,
            "kernel_objective": red.before + float(sum(k_gains)) if res.sites else None,
            "fixed_by_bound": int(fix.sum()),
            "prep_s": time.perf_counter() - t0,
        }
    )
    return sites, gains, fix


def _highs_solve(
    red: _Reduced,
    kind: str,
    *,
    p: int | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    need: float | None = None,
    relax: bool = False,
    time_limit_s: float = 60.0,
    warm: list[int] | None = None,
    ipm: bool = False,
    fixed_off: np.ndarray | None = None,
) -> _MipResult:
    """Build and solve the MILP (or its LP relaxation) with HiGHS.

    Columns ``x_j`` (binary site) then ``y_i`` (demand row covered, in [0, 1]; continuous is
    enough: some optimum has it integral). Rows ``y_i − Σ_j a_ij x_j ≤ 0`` plus one side
    constraint: ``Σ x ≤ p`` (MCLP), ``Σ c x ≤ budget`` (Budget) or ``Σ w y ≥ need`` (LSCP).

    ``relax=True, ipm=True`` runs interior point without crossover and returns the cover
    rows' duals (rescaled, as λ ≥ 0) whatever the status: any λ in [0, w] gives a valid bound
    through :func:`_lagrangian_value`, so a time-out still yields one.

    ``fixed_off`` (mask over candidates) fixes dominated sites to 0 (:func:`_dominated`). With
    integer weights (MCLP/Budget) or for LSCP every objective value is a whole number, so
    HiGHS may stop once the bound is within 1 of the incumbent (``mip_abs_gap`` just below
    1): that proves the incumbent optimal, and the bound returned is rounded down to it.
    """
    A, w = red.A, red.w
    m, n = A.shape
    scale = float(w.mean()) if m and w.mean() > 0 else 1.0
    ws = w / scale
    eye = sp.identity(m, format="csr", dtype=np.float64)
    negA = -A.astype(np.float64)
    if kind == "mclp":
        side = sp.hstack([sp.csr_matrix(np.ones((1, n))), sp.csr_matrix((1, m))])
        side_lo, side_hi = -math.inf, float(p)
    elif kind == "budget":
        side = sp.hstack([sp.csr_matrix(costs.reshape(1, n)), sp.csr_matrix((1, m))])
        side_lo, side_hi = -math.inf, float(budget)
    else:  # lscp
        side = sp.hstack([sp.csr_matrix((1, n)), sp.csr_matrix(ws.reshape(1, m))])
        side_lo, side_hi = float(need) / scale, math.inf
    M = sp.vstack([sp.hstack([negA, eye]), side]).tocsc()
    M.sort_indices()

    lp = highspy.HighsLp()
    lp.num_col_ = n + m
    lp.num_row_ = m + 1
    if kind == "lscp":
        lp.col_cost_ = np.concatenate([np.ones(n), np.zeros(m)])
        lp.sense_ = highspy.ObjSense.kMinimize
    else:
        lp.col_cost_ = np.concatenate([np.zeros(n), ws])
        lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_lower_ = np.zeros(n + m)
    upper = np.ones(n + m)
    if fixed_off is not None:
        upper[:n][fixed_off] = 0.0
    lp.col_upper_ = upper
    inf = highspy.kHighsInf
    row_lo = np.concatenate([np.full(m, -inf), [max(side_lo, -inf)]])
    row_hi = np.concatenate([np.zeros(m), [min(side_hi, inf)]])
    lp.row_lower_ = row_lo
    lp.row_upper_ = row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = M.indptr.astype(np.int32)
    lp.a_matrix_.index_ = M.indices.astype(np.int32)
    lp.a_matrix_.value_ = M.data.astype(np.float64)
    lp.a_matrix_.num_col_ = n + m
    lp.a_matrix_.num_row_ = m + 1
    if not relax:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n + [
            highspy.HighsVarType.kContinuous
        ] * m

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    h.setOptionValue("random_seed", 0)
    integral = kind == "lscp" or bool(np.all(w == np.round(w)))
    if integral and not relax:
        h.setOptionValue("mip_abs_gap", (1.0 - 1e-3) / (1.0 if kind == "lscp" else scale))
    if relax and ipm:
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")
    h.passModel(lp)
    if warm is not None and not relax:
        x0 = np.zeros(n + m)
        x0[list(warm)] = 1.0
        hit = np.asarray(A[:, list(warm)].sum(axis=1)).ravel() > 0 if warm else np.zeros(m)
        x0[n:] = hit.astype(float)
        sol = highspy.HighsSolution()
        sol.col_value = list(x0)
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    S = highspy.HighsModelStatus
    unscale = 1.0 if kind == "lscp" else scale
    if status == S.kInfeasible:
        return _MipResult(None, None, "infeasible")
    if relax and ipm:
        sol = h.getSolution()
        if not sol.dual_valid or len(sol.row_dual) != m + 1:
            return _MipResult(
                None, None, "error", f"LP gave no duals ({h.modelStatusToString(status)})"
            )
        lam = np.abs(np.asarray(sol.row_dual[:m], dtype=float)) * scale
        return _MipResult(None, None, "optimal" if status == S.kOptimal else "other", row_dual=lam)
    if relax:
        if status != S.kOptimal:
            return _MipResult(None, None, "error", f"LP ended with {h.modelStatusToString(status)}")
        return _MipResult(None, float(info.objective_function_value) * unscale, "optimal")
    bound = info.mip_dual_bound
    bound = float(bound) * unscale if np.isfinite(bound) else None
    if bound is not None and integral:  # whole-number objective: round the bound inwards
        bound = math.ceil(bound - 1e-6) if kind == "lscp" else math.floor(bound + 1e-6)
    sites = None
    if info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible:
        x = np.asarray(h.getSolution().col_value[:n])
        sites = [int(j) for j in np.flatnonzero(x > 0.5)]
    if status == S.kOptimal:
        return _MipResult(sites, bound, "optimal")
    if status in (S.kTimeLimit, S.kInterrupt, S.kIterationLimit, S.kSolutionLimit):
        return _MipResult(sites, bound, "time_limit")
    return _MipResult(sites, bound, "error", f"MIP ended with {h.modelStatusToString(status)}")


# --------------------------------------------------------------------------------------------
# Assignment model: capacities and the mean-time tie-break
# --------------------------------------------------------------------------------------------


@dataclass
class _Pairs:
    """Demand rows of an assignment model and their covering pairs (sparse, row-major)."""

    rows: np.ndarray  # original demand row per local row
    w: np.ndarray  # weight per local row
    prow: np.ndarray  # local row per pair
    pcol: np.ndarray  # candidate per pair
    pidx: np.ndarray  # position of each pair in the problem's covers.data (for minutes)


def _pairs(covers: sp.csr_matrix, weights: np.ndarray, rows: np.ndarray) -> _Pairs:
    counts = np.diff(covers.indptr)[rows]
    starts = covers.indptr[rows]
    E = int(counts.sum())
    prow = np.repeat(np.arange(len(rows)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    pidx = np.repeat(starts, counts) + (np.arange(E) - first)
    return _Pairs(rows, weights[rows], prow, covers.indices[pidx].astype(np.int64), pidx)


@dataclass
class _AssignResult:
    x: np.ndarray | None
    z: np.ndarray | None
    s: np.ndarray | None
    bound: float | None
    status: str
    message: str = ""


def _highs_assign(
    n: int,
    pr: _Pairs,
    *,
    p: int | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    max_sites: int | None = None,
    capacity: np.ndarray | None = None,
    pair_minutes: np.ndarray | None = None,
    keep_minutes: np.ndarray | None = None,
    cover_floor: float | None = None,
    integral_z: bool = False,
    relax: bool = False,
    time_limit_s: float = 60.0,
    warm: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> _AssignResult:
    """Facility-assignment MILP with HiGHS, variables only on covering pairs.

    Columns: ``x_j`` (site open, binary), ``z_e`` (pair ``e`` = demand row ``i`` served by
    candidate ``j``; binary with capacities, else continuous), ``s_r`` (row ``r`` stays with
    its existing station; only rows whose ``keep_minutes`` is finite). Rows: ``z_e ≤ x_j``;
    ``Σ_e∈i z_e + s_i ≤ 1`` (``= 1`` for rows with an existing station); ``Σ_i w_i z_ij ≤
    cap_j x_j``; the side constraint (``Σ x ≤ p``, ``Σ c x ≤ budget`` or ``Σ x ≤
    max_sites``); ``Σ w z ≥ cover_floor``. Objective: without ``pair_minutes``, maximise the
    weight served (``Σ w z``); with them, minimise ``Σ w t z + Σ w t_keep s``.
    """
    R, E = len(pr.w), len(pr.prow)
    keep = (
        np.flatnonzero(np.isfinite(keep_minutes))
        if keep_minutes is not None
        else np.zeros(0, dtype=np.int64)
    )
    K = len(keep)
    scale = float(pr.w.mean()) if R and pr.w.mean() > 0 else 1.0
    ws = pr.w / scale
    inf = highspy.kHighsInf
    e = np.arange(E)
    ri, ci, vi, lo, hi = [], [], [], [], []
    # z_e - x_j <= 0
    ri += [e, e]
    ci += [n + e, pr.pcol]
    vi += [np.ones(E), -np.ones(E)]
    lo.append(np.full(E, -inf))
    hi.append(np.zeros(E))
    # each row served at most once (exactly once when it keeps an existing station)
    ri += [E + pr.prow, E + keep]
    ci += [n + e, n + E + np.arange(K)]
    vi += [np.ones(E), np.ones(K)]
    row_lo = np.full(R, -inf)
    row_lo[keep] = 1.0
    lo.append(row_lo)
    hi.append(np.ones(R))
    nrow = E + R
    if capacity is not None:
        cap_j = np.flatnonzero(np.isfinite(capacity))
        pos = np.full(n, -1)
        pos[cap_j] = np.arange(len(cap_j))
        on = pos[pr.pcol] >= 0
        ri += [nrow + pos[pr.pcol[on]], nrow + np.arange(len(cap_j))]
        ci += [n + e[on], cap_j]
        vi += [ws[pr.prow[on]], -np.asarray(capacity, dtype=float)[cap_j] / scale]
        lo.append(np.full(len(cap_j), -inf))
        hi.append(np.zeros(len(cap_j)))
        nrow += len(cap_j)
    if p is not None or max_sites is not None:
        ri.append(np.full(n, nrow))
        ci.append(np.arange(n))
        vi.append(np.ones(n))
        lo.append([-inf])
        hi.append([float(p if p is not None else max_sites)])
        nrow += 1
    if costs is not None:
        ri.append(np.full(n, nrow))
        ci.append(np.arange(n))
        vi.append(np.asarray(costs, dtype=float))
        lo.append([-inf])
        hi.append([float(budget)])
        nrow += 1
    if cover_floor is not None:
        new = np.ones(R, dtype=bool)
        new[keep] = False
        on = new[pr.prow]
        ri.append(np.full(int(on.sum()), nrow))
        ci.append(n + e[on])
        vi.append(ws[pr.prow[on]])
        lo.append([float(cover_floor) / scale])
        hi.append([inf])
        nrow += 1
    ncol = n + E + K
    M = sp.csc_matrix(
        (np.concatenate(vi), (np.concatenate(ri), np.concatenate(ci))), shape=(nrow, ncol)
    )
    M.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = nrow
    if pair_minutes is None:
        cost = np.concatenate([np.zeros(n), ws[pr.prow], np.zeros(K)])
        lp.sense_ = highspy.ObjSense.kMaximize
    else:
        cost = np.concatenate(
            [np.zeros(n), ws[pr.prow] * pair_minutes, ws[keep] * np.asarray(keep_minutes)[keep]]
        )
        lp.sense_ = highspy.ObjSense.kMinimize
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(ncol)
    lp.col_upper_ = np.ones(ncol)
    lp.row_lower_ = np.concatenate([np.asarray(x, dtype=float) for x in lo])
    lp.row_upper_ = np.concatenate([np.asarray(x, dtype=float) for x in hi])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = M.indptr.astype(np.int32)
    lp.a_matrix_.index_ = M.indices.astype(np.int32)
    lp.a_matrix_.value_ = M.data.astype(np.float64)
    lp.a_matrix_.num_col_ = ncol
    lp.a_matrix_.num_row_ = nrow
    if not relax:
        V = highspy.HighsVarType
        zt = V.kInteger if integral_z else V.kContinuous
        lp.integrality_ = [V.kInteger] * n + [zt] * E + [V.kContinuous] * K
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    h.setOptionValue("random_seed", 0)
    h.passModel(lp)
    if warm is not None and not relax:
        sol = highspy.HighsSolution()
        sol.col_value = list(np.concatenate([np.asarray(v, dtype=float) for v in warm]))
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    S = highspy.HighsModelStatus
    unscale = scale
    if status == S.kInfeasible:
        return _AssignResult(None, None, None, None, "infeasible")
    if relax:
        if status != S.kOptimal:
            return _AssignResult(
                None, None, None, None, "error", f"LP ended with {h.modelStatusToString(status)}"
            )
        return _AssignResult(
            None, None, None, float(info.objective_function_value) * unscale, "optimal"
        )
    bound = info.mip_dual_bound
    bound = float(bound) * unscale if np.isfinite(bound) else None
    x = z = s = None
    if info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible:
        col = np.asarray(h.getSolution().col_value)
        x, z, s = col[:n] > 0.5, col[n : n + E], col[n + E :]
    if status == S.kOptimal:
        return _AssignResult(x, z, s, bound, "optimal")
    if status in (S.kTimeLimit, S.kInterrupt, S.kIterationLimit, S.kSolutionLimit):
        return _AssignResult(x, z, s, bound, "time_limit")
    return _AssignResult(x, z, s, bound, "error", f"MIP ended with {h.modelStatusToString(status)}")


def _greedy_capacity(
    n: int,
    pr: _Pairs,
    capacity: np.ndarray,
    *,
    k_max: int | None = None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
) -> tuple[list[int], list[float], np.ndarray]:
    """Greedy with capacities (a heuristic): each step opens the site that serves the most
    unserved weight (per cost for Budget), filling its capacity heaviest rows first (rows
    that do not fit are skipped, lighter ones tried). Returns sites, the weight each serves
    and the local row → site assignment (-1: unserved). Stale heap keys are treated as
    upper bounds as in :func:`_lazy_greedy`; with capacities that is not exact, hence
    "heuristic" (the plan's bound does not rely on it).
    """
    by_cand = sp.csr_matrix((np.ones(len(pr.prow)), (pr.pcol, pr.prow)), shape=(n, len(pr.w)))
    by_cand.sort_indices()
    indptr, indices = by_cand.indptr, by_cand.indices
    w = pr.w
    assigned = np.full(len(w), -1, dtype=np.int64)
    remaining = math.inf if budget is None else float(budget)

    def fill(j: int) -> tuple[np.ndarray, float]:
        rows = indices[indptr[j] : indptr[j + 1]]
        rows = rows[assigned[rows] < 0]
        if not math.isfinite(capacity[j]):
            return rows, float(w[rows].sum())
        rows = rows[np.argsort(-w[rows], kind="stable")]
        left, take = float(capacity[j]), []
        for r in rows:
            if w[r] <= left + 1e-12:
                take.append(r)
                left -= w[r]
        return np.asarray(take, dtype=np.int64), float(capacity[j]) - left

    def key_of(g: float, j: int) -> float:
        if costs is None:
            return g
        return g / costs[j] if costs[j] > 0 else (math.inf if g > 0 else 0.0)

    heap = []
    for j in range(n):
        _, g = fill(j)
        if g > 0:
            heap.append((-key_of(g, j), j))
    heapq.heapify(heap)
    sites, gains = [], []
    while heap and (k_max is None or len(sites) < k_max):
        _, j = heapq.heappop(heap)
        if costs is not None and costs[j] > remaining:
            continue
        rows, g = fill(j)
        if g <= 0:
            continue
        k = key_of(g, j)
        if heap and k < -heap[0][0]:
            heapq.heappush(heap, (-k, j))
            continue
        sites.append(j)
        gains.append(g)
        assigned[rows] = j
        if costs is not None:
            remaining -= costs[j]
    return sites, gains, assigned


def _capacity_values(red: _Reduced, capacity: np.ndarray) -> np.ndarray:
    """Per candidate, the most new weight it can serve: min(capacity, weight within reach)."""
    g0 = np.asarray(red.AT @ red.w).ravel() if len(red.w) else np.zeros(red.AT.shape[0])
    return np.minimum(g0, capacity)


# --------------------------------------------------------------------------------------------
# GeoDataFrame front door
# --------------------------------------------------------------------------------------------


def _geo_points(gdf, what: str, messages: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat of a GeoDataFrame's points (polygons: representative points)."""
    import geopandas as gpd

    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(
            f"{what} must be a GeoDataFrame, got {type(gdf).__name__}", field=what
        )
    if len(gdf) == 0:
        raise ValidationError(f"{what} is empty: no rows", field=what)
    if gdf.crs is None:
        raise ValidationError(
            f"{what} has no CRS: set it first, e.g. gdf.set_crs('EPSG:4326') for lon/lat",
            field=what,
        )
    geom = gdf.geometry
    bad = geom.isna() | geom.is_empty
    if bad.any():
        raise ValidationError(
            f"{what} has {int(bad.sum())} row(s) without geometry (first at position "
            f"{int(np.flatnonzero(bad.to_numpy())[0])})",
            field=what,
        )
    kinds = geom.geom_type.to_numpy()
    area = np.isin(kinds, ["Polygon", "MultiPolygon"])
    other = sorted(set(kinds[~area & (kinds != "Point")]))
    if other:
        raise ValidationError(
            f"{what} has {', '.join(other)} geometries: give points (or polygons, which are "
            "placed at a representative point)",
            field=what,
        )
    if area.any():
        geom = geom.copy()
        geom[area] = geom[area].representative_point()
        messages.append(
            f"{what}: {int(area.sum())} polygon(s) placed at a representative point (inside "
            "the polygon)"
        )
    if not gdf.crs.equals("EPSG:4326"):
        geom = geom.to_crs("EPSG:4326")
    lon, lat = geom.x.to_numpy(dtype=float), geom.y.to_numpy(dtype=float)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ValidationError(f"{what} has coordinates that do not project to lon/lat", field=what)
    return lon, lat


def _column(gdf, col: str | None, field_name: str) -> np.ndarray:
    import pandas as pd

    if col is None:
        raise ValidationError(f"{field_name} is required", field=field_name)
    if col not in gdf.columns:
        raise ValidationError(
            f"no column {col!r}; have: {', '.join(map(str, gdf.columns))}"[:300],
            field=field_name,
        )
    return pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype=float)


def _geo_inputs(
    demand_gdf,
    candidates_gdf,
    *,
    weights_col,
    max_minutes,
    service_radius_m,
    model,
    existing,
    capacity_col=None,
    capacity=None,
) -> tuple[dict, dict]:
    """Matrix, minutes, weights, existing coverage and capacities for ``from_geodataframe``."""
    from geo.travel import CrowflyModel

    messages: list[str] = []
    d_lon, d_lat = _geo_points(demand_gdf, "demand_gdf", messages)
    c_lon, c_lat = _geo_points(candidates_gdf, "candidates_gdf", messages)
    if (max_minutes is None) == (service_radius_m is None):
        raise ValidationError(
            "give exactly one of max_minutes (with a travel model) and service_radius_m",
            field="max_minutes",
        )
    if service_radius_m is not None:
        if model is not None:
            raise ValidationError(
                "service_radius_m is a straight-line radius: give max_minutes with a model",
                field="service_radius_m",
            )
        try:
            r = float(service_radius_m)
        except (TypeError, ValueError):
            r = math.nan
        if not (math.isfinite(r) and r > 0):
            raise ValidationError("service_radius_m must be > 0", field="service_radius_m")
        model = CrowflyModel("walk", speed_kph=60.0, circuity=1.0)  # 1 km a "minute"
        max_minutes = r / 1000.0
    try:
        max_minutes = float(max_minutes)
    except (TypeError, ValueError):
        max_minutes = math.nan
    if not (math.isfinite(max_minutes) and max_minutes > 0):
        raise ValidationError("max_minutes must be > 0", field="max_minutes")
    model = model or CrowflyModel("car")
    weights = None if weights_col is None else _column(demand_gdf, weights_col, "weights_col")
    covers, minutes = coverage_matrix(d_lon, d_lat, c_lon, c_lat, model, max_minutes)
    already = existing_minutes = None
    if existing is not None and len(existing) > 0:
        e_lon, e_lat = _geo_points(existing, "existing", messages)
        nt = model.time_to_nearest(d_lon, d_lat, e_lon, e_lat, max_minutes)
        existing_minutes = np.where(np.isfinite(nt.minutes), nt.minutes, np.inf)
        already = np.isfinite(existing_minutes)
    if capacity_col is not None and capacity is not None:
        raise ValidationError("give capacity_col or capacity, not both", field="capacity")
    if capacity_col is not None:
        capacity = _column(candidates_gdf, capacity_col, "capacity_col")
    kw = {
        "covers": covers,
        "weights": weights,
        "already_covered": already,
        "minutes": minutes,
        "existing_minutes": existing_minutes,
        "capacity": capacity,
    }
    extra = {"messages": messages, "model": model, "max_minutes": max_minutes}
    return kw, extra


def _with_geo(problem: _Problem, extra: dict, demand_gdf, admin_cols: dict | None) -> _Problem:
    problem.messages.extend(extra["messages"])
    problem.model = extra["model"]
    problem.max_minutes = extra["max_minutes"]
    for level, col in (ADMIN_COLS if admin_cols is None else admin_cols).items():
        if col in demand_gdf.columns:
            problem.admin[level] = demand_gdf[col].astype(object).to_numpy()
    return problem


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------


def _as_covers(covers) -> sp.csr_matrix:
    if sp.issparse(covers):
        A = sp.csr_matrix(covers)
    else:
        arr = np.asarray(covers)
        if arr.ndim != 2:
            raise ValidationError(
                f"covers must be a 2-D demand × candidate matrix, got {arr.ndim}-D",
                field="covers",
            )
        A = sp.csr_matrix(arr)
    if A.ndim != 2:
        raise ValidationError("covers must be 2-D", field="covers")
    A = sp.csr_matrix(A != 0, dtype=bool) if A.dtype != bool else A.copy()
    A.eliminate_zeros()
    A.sum_duplicates()
    A.sort_indices()
    m, n = A.shape
    if n == 0:
        raise ValidationError("empty candidate set: no candidate sites given", field="covers")
    if m == 0:
        raise ValidationError("empty demand set: no demand points given", field="covers")
    return A


def _as_weights(weights, m: int) -> np.ndarray:
    if weights is None:
        return np.ones(m)
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape != (m,):
        raise ValidationError(
            f"weights has {w.size} values but covers has {m} demand rows", field="weights"
        )
    if not np.isfinite(w).all():
        raise ValidationError("weights must be finite (no NaN or missing)", field="weights")
    if (w < 0).any():
        raise ValidationError("weights must be ≥ 0", field="weights")
    return w


def _as_mask(already_covered, m: int) -> np.ndarray:
    if already_covered is None:
        return np.zeros(m, dtype=bool)
    a = np.asarray(already_covered)
    if a.shape != (m,):
        raise ValidationError(
            f"already_covered has shape {a.shape} but covers has {m} demand rows",
            field="already_covered",
        )
    if a.dtype != bool:
        raise ValidationError("already_covered must be a boolean mask", field="already_covered")
    return a


def _as_minutes(minutes, covers: sp.csr_matrix) -> np.ndarray | None:
    """Minutes of every covered pair, in the order of ``covers.data``."""
    if minutes is None:
        return None
    m, n = covers.shape
    rows = np.repeat(np.arange(m), np.diff(covers.indptr))
    if sp.issparse(minutes):
        M = sp.csr_matrix(minutes)
        if M.shape != (m, n):
            raise ValidationError(
                f"minutes has shape {M.shape} but covers has {(m, n)}", field="minutes"
            )
        M.sort_indices()
        if np.array_equal(M.indptr, covers.indptr) and np.array_equal(M.indices, covers.indices):
            vals = np.asarray(M.data, dtype=float)
        else:  # entries not stored are 0 minutes
            vals = np.asarray(M[rows, covers.indices], dtype=float).ravel()
    else:
        arr = np.asarray(minutes, dtype=float)
        if arr.shape != (m, n):
            raise ValidationError(
                f"minutes has shape {arr.shape} but covers has {(m, n)}", field="minutes"
            )
        vals = arr[rows, covers.indices]
    if not (np.isfinite(vals).all() and (vals >= 0).all()):
        raise ValidationError(
            "minutes must be finite and ≥ 0 wherever a candidate covers a demand point",
            field="minutes",
        )
    return vals.astype(np.float64, copy=True)


def _as_existing_minutes(existing_minutes, covered: np.ndarray) -> np.ndarray | None:
    if existing_minutes is None:
        return None
    t = np.asarray(existing_minutes, dtype=float).ravel()
    if t.shape != covered.shape:
        raise ValidationError(
            f"existing_minutes has {t.size} values but covers has {covered.size} demand rows",
            field="existing_minutes",
        )
    if np.isnan(t).any() or (t < 0).any() or not np.isfinite(t[covered]).all():
        raise ValidationError(
            "existing_minutes must be ≥ 0, finite on already-covered rows (inf elsewhere)",
            field="existing_minutes",
        )
    return t


def _as_capacity(capacity, n: int) -> np.ndarray | None:
    if capacity is None:
        return None
    try:
        c = np.broadcast_to(np.asarray(capacity, dtype=float), (n,)).copy()
    except (TypeError, ValueError):
        raise ValidationError(
            f"capacity must be one number or one per candidate ({n}), got {capacity!r}"[:200],
            field="capacity",
        ) from None
    if np.isnan(c).any():
        raise ValidationError("capacity must not be missing (NaN)", field="capacity")
    if (c <= 0).any():
        raise ValidationError(
            "capacity must be > 0 for every candidate (a site that serves nobody is not a "
            "candidate: leave it out)",
            field="capacity",
        )
    return c


class _Problem:
    """Shared setup: validated matrix, weights and existing coverage, reduced once."""

    problem = ""

    def __init__(
        self,
        covers,
        weights=None,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        capacity=None,
    ) -> None:
        self.covers = _as_covers(covers)
        m, self.n_candidates = self.covers.shape
        self.weights = _as_weights(weights, m)
        self.already_covered = _as_mask(already_covered, m)
        self.minutes = _as_minutes(minutes, self.covers)
        self.existing_minutes = _as_existing_minutes(existing_minutes, self.already_covered)
        self.capacity = _as_capacity(capacity, self.n_candidates)
        self.admin: dict[str, np.ndarray] = {}
        self.messages: list[str] = []
        self._red: _Reduced | None = None

    @property
    def reduced(self) -> _Reduced:
        if self._red is None:
            self._red = _reduce(self.covers, self.weights, self.already_covered)
        return self._red

    def solve(
        self,
        solver: str = "greedy",
        time_limit_s: float = 60.0,
        improve: bool = True,
        tie_break: str | None = None,
    ) -> Plan:
        """Solve with ``"greedy"`` or ``"exact"`` (HiGHS MILP, ``time_limit_s`` seconds).

        ``improve`` (MCLP/Budget): polish greedy with a 1-swap local search (it never lowers
        the objective); exact is warm-started from the polished plan.

        ``tie_break="mean-time"`` (needs ``minutes`` and highspy): a second, lexicographic
        pass keeps the covered weight at least that of the first plan (the proven optimum
        after an exact solve) and the same limit (``p``, budget, or the LSCP's number of
        sites), and minimises demand-weighted travel minutes to the serving site (nearest
        chosen or existing station; existing stations count when ``existing_minutes`` was
        given). It has its own ``time_limit_s``; on a time-out the best plan found so far is
        kept (never worse than the first one) and a message says so.
        """
        if solver not in SOLVERS:
            raise ValidationError(
                f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}", field="solver"
            )
        if not time_limit_s > 0:
            raise ValidationError("time_limit_s must be > 0", field="time_limit_s")
        if tie_break not in TIE_BREAKS:
            raise ValidationError(
                f"unknown tie_break {tie_break!r}; use mean-time or none", field="tie_break"
            )
        if tie_break and self.minutes is None:
            raise ValidationError(
                "tie_break='mean-time' needs travel minutes per pair (minutes=..., or "
                "from_geodataframe, which computes them)",
                field="tie_break",
            )
        t0 = time.perf_counter()
        messages = list(self.messages)
        red = self.reduced
        if solver == "exact" and not highs_available():
            messages.append("exact solver needs highspy (HiGHS), not installed: used greedy")
            solver = "greedy"
        size = red.A.nnz if self.capacity is None else int(np.diff(self.covers.indptr).sum())
        if solver == "exact" and size > EXACT_MAX_NNZ:
            messages.append(
                f"the matrix has {size:,} entries after reduction, more than the exact solver "
                f"takes ({EXACT_MAX_NNZ:,}): used greedy (see the gap to the proven bound)"
            )
            solver = "greedy"
        self._improve = bool(improve)
        if self.capacity is not None:
            plan = self._solve_capacity(red, solver, time_limit_s, messages)
        else:
            plan = self._solve(red, solver, time_limit_s, messages)
        self._finish(plan)
        if tie_break:
            plan = self._tie_break(plan, time_limit_s)
        plan.run_time_s = time.perf_counter() - t0
        plan.stats = {**red.stats, **plan.stats}
        return plan

    # Subclasses implement _solve and the pieces below.
    def _solve(self, red, solver, time_limit_s, messages) -> Plan:  # pragma: no cover
        raise NotImplementedError

    def _solve_capacity(self, red, solver, time_limit_s, messages) -> Plan:
        raise ValidationError(
            f"capacities are supported for MCLP and Budget, not {self.problem.upper()}",
            field="capacity",
        )

    def _side(self, plan: Plan | None) -> dict:
        """The limit of the problem for the assignment model (p, budget or sites)."""
        raise NotImplementedError  # pragma: no cover

    def _finish(self, plan: Plan) -> None:
        """Per-row outcome (covered after, minutes to the serving site) and the mean time."""
        A, covered, w = self.covers, self.already_covered, self.weights
        m = A.shape[0]
        t = np.full(m, np.nan)
        if self.existing_minutes is not None:
            t[covered] = self.existing_minutes[covered]
        chosen = np.asarray(plan.chosen, dtype=np.int64)
        prow = np.repeat(np.arange(m), np.diff(A.indptr))
        if plan.assignment is not None:
            a = plan.assignment
            after = covered | (a >= 0)
            if self.minutes is not None:
                hit = np.flatnonzero(a[prow] == A.indices)
                t[prow[hit]] = self.minutes[hit]
        else:
            sel = np.isin(A.indices, chosen)
            after = covered.copy()
            after[prow[sel]] = True
            if self.minutes is not None:
                best = np.full(m, np.inf)
                np.minimum.at(best, prow[sel], self.minutes[sel])
                new = ~covered & np.isfinite(best)
                t[new] = best[new]
                if self.existing_minutes is not None:
                    t[covered] = np.minimum(t[covered], best[covered])
        ok = after & np.isfinite(t) & (w > 0)
        plan.mean_minutes = (
            float(np.average(t[ok], weights=w[ok]))
            if self.minutes is not None and ok.any()
            else None
        )
        t[~after] = np.nan
        plan.rows = {
            "weights": w,
            "covered_before": covered,
            "covered_after": after,
            "minutes": t,
            "admin": dict(self.admin),
        }

    def _tie_break(self, plan: Plan, time_limit_s: float) -> Plan:
        """The lexicographic second pass of ``solve(tie_break="mean-time")``."""
        plan.tie_break = "mean-time"
        if not highs_available():
            plan.messages.append("tie-break needs highspy (HiGHS), not installed: skipped")
            return plan
        if len(plan.chosen) == 0:
            return plan
        A, covered, w = self.covers, self.already_covered, self.weights
        reach = np.diff(A.indptr) > 0
        rows_new = ~covered & (w > 0) & reach
        rows_keep = np.zeros_like(covered)
        if self.existing_minutes is not None:
            rows_keep = covered & (w > 0) & reach
        rows = np.flatnonzero(rows_new | rows_keep)
        pr = _pairs(A, w, rows)
        size = len(pr.prow)
        if size > EXACT_MAX_NNZ:
            plan.messages.append(
                f"tie-break skipped: {size:,} demand-site pairs, more than {EXACT_MAX_NNZ:,}"
            )
            return plan
        t_pair = self.minutes[pr.pidx]
        keep_t = np.full(len(rows), np.inf)
        if self.existing_minutes is not None:
            keep_t[rows_keep[rows]] = self.existing_minutes[rows[rows_keep[rows]]]
        new_cov = plan.covered_after - plan.covered_before
        tol = 1e-9 * max(plan.total_weight, 1.0)
        # warm start: the first plan, each row with its serving site
        x0 = np.zeros(self.n_candidates)
        x0[plan.chosen] = 1.0
        z0 = np.zeros(size)
        s0 = np.zeros(int(np.isfinite(keep_t).sum()))
        if plan.assignment is not None:
            z0[plan.assignment[rows[pr.prow]] == pr.pcol] = 1.0
        else:
            open_ = x0[pr.pcol] > 0
            best = np.full(len(rows), np.inf)
            np.minimum.at(best, pr.prow[open_], t_pair[open_])
            use = open_ & (t_pair == best[pr.prow]) & (best[pr.prow] < keep_t[pr.prow])
            first = np.unique(pr.prow[use], return_index=True)[1]
            z0[np.flatnonzero(use)[first]] = 1.0
        served = np.zeros(len(rows), dtype=bool)
        served[pr.prow[z0 > 0]] = True
        s0[:] = ~served[np.isfinite(keep_t)]
        res = _highs_assign(
            self.n_candidates,
            pr,
            **self._side(plan),
            capacity=self.capacity,
            pair_minutes=t_pair,
            keep_minutes=keep_t,
            cover_floor=max(0.0, new_cov - tol),
            integral_z=self.capacity is not None,
            time_limit_s=time_limit_s,
            warm=(x0, z0, s0),
        )
        before_mean = plan.mean_minutes
        if res.x is None:
            plan.messages.append(f"tie-break found no plan ({res.status}): first plan kept")
            return plan
        sites = [int(j) for j in np.flatnonzero(res.x)]
        if self.capacity is not None:
            zb = res.z > 0.5
            a = np.full(len(w), -1, dtype=np.int64)
            a[rows[pr.prow[zb]]] = pr.pcol[zb]
            gain_j = np.bincount(
                pr.pcol[zb & ~rows_keep[rows][pr.prow]],
                weights=pr.w[pr.prow[zb & ~rows_keep[rows][pr.prow]]],
                minlength=self.n_candidates,
            )
            used = set(a[a >= 0].tolist())
            order = sorted((j for j in sites if j in used), key=lambda j: -gain_j[j])
            gains = [float(gain_j[j]) for j in order]
        else:
            a = None
            order, gains = _order(self.reduced, sites)
            # sites adding no coverage but serving demand faster stay, with a gain of 0
            t_open = np.where(res.x[pr.pcol], t_pair, np.inf)
            best = np.full(len(rows), np.inf)
            np.minimum.at(best, pr.prow, t_open)
            serving = pr.pcol[(t_open == best[pr.prow]) & (best[pr.prow] < keep_t[pr.prow])]
            extra = sorted(set(serving.tolist()) - set(order))
            order, gains = [*order, *extra], [*gains, *([0.0] * len(extra))]
        if sum(gains) < new_cov - 1e-7 * max(plan.total_weight, 1.0):
            plan.messages.append("tie-break plan covers less (numerically): first plan kept")
            return plan
        cand = dataclasses.replace(
            plan,
            chosen=np.asarray(order, dtype=np.int64),
            gains=np.asarray(gains, dtype=float),
            assignment=a,
            messages=list(plan.messages),
            stats=dict(plan.stats),
        )
        after = cand.covered_before + float(sum(gains))
        cand.objective = cand.covered_after = after
        if cand.problem == "lscp":
            k = len(cand.chosen)
            cand.gap = (k - cand.bound) / k if k else 0.0
        else:
            denom = cand.bound - cand.covered_before
            cand.gap = max(0.0, (cand.bound - after) / denom) if denom > tol else 0.0
        self._finish(cand)
        if (
            before_mean is not None
            and cand.mean_minutes is not None
            and cand.mean_minutes > before_mean + 1e-9 * max(before_mean, 1.0)
        ):
            plan.messages.append("tie-break found no faster plan: first plan kept")
            return plan
        cand.stats["tie_break"] = {
            "status": res.status,
            "mean_minutes_before": before_mean,
            "mean_minutes_after": cand.mean_minutes,
        }
        note = "" if res.status == "optimal" else f" (stopped: {res.status}, may not be minimal)"

        def fmt(v):
            return "n/a" if v is None else f"{v:.2f}"

        cand.messages.append(
            f"tie-break: mean minutes {fmt(before_mean)} → {fmt(cand.mean_minutes)} at equal "
            f"or better coverage{note}"
        )
        return cand

    def _plan(
        self, red: _Reduced, solver, status, sites, gains, bound, source, messages, **extra
    ) -> Plan:
        after = red.before + float(sum(gains))
        denom = bound - red.before
        gap = max(0.0, (bound - after) / denom) if denom > 1e-12 * max(red.total, 1.0) else 0.0
        if status == "feasible" and gap <= 1e-9:
            status = "optimal"
        return self._make(red, solver, status, sites, gains, bound, gap, source, messages, **extra)

    def _make(
        self, red: _Reduced, solver, status, sites, gains, bound, gap, source, messages, **extra
    ) -> Plan:
        """The :class:`Plan` record (objective = covered before + the gains)."""
        after = red.before + float(sum(gains))
        return Plan(
            problem=self.problem,
            solver=solver,
            status=status,
            chosen=np.asarray(sites, dtype=np.int64),
            gains=np.asarray(gains, dtype=float),
            objective=after,
            covered_before=red.before,
            covered_after=after,
            total_weight=red.total,
            bound=float(bound),
            gap=float(gap),
            bound_source=source,
            messages=messages,
            **extra,
        )


class _MaxCoverage(_Problem):
    """MCLP and Budget share a maximising solve; they differ in the side constraint."""

    def _greedy(self, red: _Reduced) -> tuple[list[int], list[float]]:
        raise NotImplementedError  # pragma: no cover

    def _trivial_bound(self, red: _Reduced) -> float:
        raise NotImplementedError  # pragma: no cover

    def _highs_kw(self) -> dict:
        raise NotImplementedError  # pragma: no cover

    def _extra(self, sites) -> dict:
        return {}

    def _solve(self, red, solver, time_limit_s, messages) -> Plan:
        t0 = time.perf_counter()
        sites, gains = self._greedy(red)
        stats = {"greedy_objective": red.before + float(sum(gains)), "local_search_moves": 0}
        if getattr(self, "_improve", True) and sites:
            ls_sites, moves = _local_search(
                red, sites, max_s=min(LOCAL_SEARCH_MAX_S, time_limit_s / 4), **self._highs_kw()
            )
            if moves:
                o_sites, o_gains = _order(red, ls_sites)
                if sum(o_gains) > sum(gains):
                    sites, gains = o_sites, o_gains
                    stats["local_search_moves"] = moves
        stats["greedy_s"] = time.perf_counter() - t0
        bound, source = self._trivial_bound(red)
        if solver == "greedy":
            slack = 1e-9 * max(red.total, 1.0)
            got = float(sum(gains))
            if red.before + got < bound - slack:
                lag = _lagrangian_bound(red, got, **self._highs_kw())
                if red.before + lag < bound:
                    bound, source = red.before + lag, "lagrangian"
            new = bound - red.before
            if (
                highs_available()
                and red.A.nnz > LP_BOUND_MAX_NNZ
                and new > 0
                and (new - got) / new > GAP_TARGET
            ):
                lp = _highs_solve(
                    red,
                    self.problem,
                    relax=True,
                    ipm=True,
                    time_limit_s=min(time_limit_s, IPM_BOUND_TIME_LIMIT_S),
                    **self._highs_kw(),
                )
                if lp.row_dual is not None:
                    val = _lagrangian_value(red, lp.row_dual, **self._highs_kw())
                    if red.before + val < bound:
                        bound, source = red.before + val, "lp-dual"
                elif lp.message:
                    messages.append(f"LP bound not available: {lp.message}")
            if (
                highs_available()
                and red.A.nnz <= LP_BOUND_MAX_NNZ
                and red.before + sum(gains) < bound - slack
            ):
                lp = _highs_solve(
                    red,
                    self.problem,
                    relax=True,
                    time_limit_s=min(time_limit_s, LP_BOUND_TIME_LIMIT_S),
                    **self._highs_kw(),
                )
                if lp.bound is not None and red.before + lp.bound < bound:
                    bound, source = red.before + lp.bound, "lp"
                elif lp.message:
                    messages.append(f"LP bound not available: {lp.message}")
            stats["bound_s"] = time.perf_counter() - t0 - stats["greedy_s"]
            return self._plan(
                red,
                "greedy",
                "feasible",
                sites,
                gains,
                bound,
                source,
                messages,
                stats=stats,
                **self._extra(sites),
            )
        off = _dominated(red, getattr(self, "costs", None))
        off[list(sites)] = False
        stats["dominated_candidates"] = int(off.sum())
        left_s = time_limit_s
        if self.problem == "mclp" and self.p > 0 and red.A.nnz > EXACT_PREP_MIN_NNZ:
            t1 = time.perf_counter()
            sites, gains, fix = _mclp_bound_fixing(red, self.p, sites, gains, time_limit_s, stats)
            off |= fix
            off[list(sites)] = False
            left_s = max(1.0, time_limit_s - (time.perf_counter() - t1))
        res = _highs_solve(
            red,
            self.problem,
            time_limit_s=left_s,
            warm=sites,
            fixed_off=off,
            **self._highs_kw(),
        )
        if res.message:
            messages.append(res.message)
        if res.bound is not None and red.before + res.bound < bound:
            bound, source = red.before + res.bound, "mip"
        exact_sites = res.sites
        fallback = None
        if exact_sites is None:
            fallback = f"exact found no solution ({res.status}) within {time_limit_s:g} s"
        else:
            e_sites, e_gains = _order(red, exact_sites)
            dropped = len(exact_sites) - len(e_sites)
            if dropped:
                messages.append(f"{dropped} site(s) of the exact solution add no coverage: dropped")
            if sum(e_gains) < sum(gains) - 1e-9 * max(red.total, 1.0):
                fallback = f"exact timed out after {time_limit_s:g} s with a worse incumbent"
        if fallback is not None:
            messages.append(f"{fallback}, fell back to greedy")
            return self._plan(
                red,
                "greedy",
                "feasible",
                sites,
                gains,
                bound,
                source,
                messages,
                **self._extra(sites),
            )
        if res.status == "time_limit":
            messages.append(f"exact stopped at the time limit ({time_limit_s:g} s): see gap")
        status = "optimal" if res.status == "optimal" else "feasible"
        stats["exact_s"] = time.perf_counter() - t0 - stats["greedy_s"]
        plan = self._plan(
            red,
            "exact",
            status,
            e_sites,
            e_gains,
            bound,
            source,
            messages,
            stats=stats,
            **self._extra(e_sites),
        )
        if res.status == "optimal":
            plan.status = "optimal"  # proven within MIP_REL_GAP (or below 1 on integer weights)
        return plan

    def _solve_capacity(self, red, solver, time_limit_s, messages) -> Plan:
        """Capacities: greedy heuristic, or the exact single-assignment MILP."""
        t0 = time.perf_counter()
        A, w, covered = self.covers, self.weights, self.already_covered
        cap = self.capacity
        n = self.n_candidates
        rows = np.flatnonzero(~covered & (w > 0) & (np.diff(A.indptr) > 0))
        pr = _pairs(A, w, rows)
        side = self._side(None)
        if len(pr.prow) == 0:  # nothing left to serve
            assignment = np.full(len(w), -1, dtype=np.int64)
            return self._plan(
                red,
                solver,
                "optimal",
                [],
                [],
                red.before,
                "trivial",
                messages,
                assignment=assignment,
                **self._extra([]),
            )
        sites, gains, a_loc = _greedy_capacity(
            n, pr, cap, k_max=side.get("p"), costs=side.get("costs"), budget=side.get("budget")
        )
        stats = {"greedy_objective": red.before + float(sum(gains)), "greedy_s": 0.0}
        stats["greedy_s"] = time.perf_counter() - t0
        # Bound: the uncapacitated bound, and the capacity-limited best single-site values.
        bound, source = self._trivial_bound(red)
        vals = _capacity_values(red, cap)
        if "p" in side:
            top = float(np.sort(vals)[::-1][: side["p"]].sum())
        else:
            top = float(vals @ _fractional_knapsack(vals, self.costs, self.budget))
        if red.before + top < bound:
            bound, source = red.before + min(top, red.reachable), "capacity"
        if solver == "greedy":
            messages.append(
                "greedy with capacities is a heuristic (heaviest demand first); the bound "
                "comes from the capacities and single-site coverage, so the gap may be wide: "
                "use the exact solver for a proven plan"
            )
            if highs_available() and len(pr.prow) <= LP_BOUND_MAX_NNZ and len(rows):
                lp = _highs_assign(
                    n,
                    pr,
                    **side,
                    capacity=cap,
                    relax=True,
                    time_limit_s=min(time_limit_s, LP_BOUND_TIME_LIMIT_S),
                )
                if lp.bound is not None and red.before + lp.bound < bound:
                    bound, source = red.before + lp.bound, "lp"
        else:
            x0 = np.zeros(n)
            x0[sites] = 1.0
            z0 = (a_loc[pr.prow] == pr.pcol).astype(float)
            res = _highs_assign(
                n,
                pr,
                **side,
                capacity=cap,
                integral_z=True,
                time_limit_s=time_limit_s,
                warm=(x0, z0, np.zeros(0)),
            )
            if res.message:
                messages.append(res.message)
            if res.bound is not None and red.before + res.bound < bound:
                bound, source = red.before + res.bound, "mip"
            if res.x is not None:
                zb = res.z > 0.5
                gain_j = np.bincount(pr.pcol[zb], weights=pr.w[pr.prow[zb]], minlength=n)
                e_sites = [int(j) for j in np.flatnonzero(res.x)]
                e_order = sorted((j for j in e_sites if gain_j[j] > 0), key=lambda j: -gain_j[j])
                if len(e_order) < len(e_sites):
                    messages.append(
                        f"{len(e_sites) - len(e_order)} site(s) of the exact solution serve "
                        "nobody: dropped"
                    )
                e_gains = [float(gain_j[j]) for j in e_order]
                if sum(e_gains) >= sum(gains) - 1e-9 * max(red.total, 1.0):
                    a_loc = np.full(len(rows), -1, dtype=np.int64)
                    a_loc[pr.prow[zb]] = pr.pcol[zb]
                    sites, gains = e_order, e_gains
                    solver_used = "exact"
                else:
                    solver_used = "greedy"
                    messages.append(
                        f"exact timed out after {time_limit_s:g} s with a worse incumbent, "
                        "fell back to greedy"
                    )
            else:
                solver_used = "greedy"
                messages.append(
                    f"exact found no solution ({res.status}) within {time_limit_s:g} s, "
                    "fell back to greedy"
                )
            if res.status == "time_limit" and solver_used == "exact":
                messages.append(f"exact stopped at the time limit ({time_limit_s:g} s): see gap")
            solver = solver_used
        assignment = np.full(len(w), -1, dtype=np.int64)
        assignment[rows] = a_loc
        status = "feasible"
        plan = self._plan(
            red,
            solver,
            status,
            sites,
            gains,
            bound,
            source,
            messages,
            stats=stats,
            assignment=assignment,
            **self._extra(sites),
        )
        if solver == "exact" and res.status == "optimal":
            plan.status = "optimal"
        return plan


class MCLP(_MaxCoverage):
    """Maximal covering: choose at most ``p`` new sites to cover the most new weight.

    ``p`` larger than the number of candidates is capped, with a message (not refused).
    Plans may have fewer than ``p`` sites when no further site adds coverage.
    """

    problem = "mclp"

    def __init__(self, covers, weights=None, p: int = 1, already_covered=None, **kw) -> None:
        super().__init__(covers, weights, already_covered, **kw)
        if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 0:
            raise ValidationError(f"p must be a whole number ≥ 0, got {p!r}", field="p")
        p = int(p)
        if p > self.n_candidates:
            self.messages.append(
                f"p = {p} exceeds the {self.n_candidates} candidates: capped at {self.n_candidates}"
            )
            p = self.n_candidates
        self.p = p

    @classmethod
    def from_cost_matrix(
        cls,
        covers,
        weights=None,
        p: int = 1,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        capacity=None,
    ) -> MCLP:
        """Build from a boolean demand × candidate ``covers`` matrix (sparse or dense).

        Parameters
        ----------
        covers
            ``covers[i, j]`` true when candidate ``j`` reaches demand ``i``.
        weights
            Demand weight per row (people); ``None`` means 1 each.
        p
            Number of new sites.
        already_covered
            Boolean mask of demand rows already covered by existing stations.
        minutes
            Travel minutes per covered pair (dense, or sparse with the pattern of ``covers``;
            e.g. the second matrix of :func:`coverage_matrix`): for the mean-time tie-break
            and :attr:`Plan.mean_minutes`.
        existing_minutes
            Minutes from each demand row to its nearest existing station (``inf`` where none
            within reach).
        capacity
            Demand weight each candidate can serve (one number or one per candidate, > 0).
        """
        return cls(
            covers,
            weights,
            p,
            already_covered,
            minutes=minutes,
            existing_minutes=existing_minutes,
            capacity=capacity,
        )

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        *,
        p: int = 1,
        weights_col: str | None = None,
        max_minutes: float | None = None,
        service_radius_m: float | None = None,
        model=None,
        existing=None,
        capacity_col: str | None = None,
        capacity: float | None = None,
        admin_cols: dict | None = None,
    ) -> MCLP:
        """Best ``p`` sites from GeoDataFrames (spopt's ``MCLP.from_geodataframe``, with
        travel times of a :mod:`geo.travel` model instead of a planar distance).

        Parameters
        ----------
        demand_gdf, candidates_gdf
            GeoDataFrames in any CRS (reprojected to EPSG:4326). Points; polygons are placed
            at their representative points (inside the polygon; a message says how many).
        weights_col
            Demand weight column (people); ``None`` means 1 per row.
        max_minutes
            Travel-time limit of the ``model``; or give ``service_radius_m`` (straight-line
            metres) instead, in which case the plan's "minutes" are straight-line kilometres.
        model
            A travel model from :mod:`geo.travel` (crow-fly or road network); default the
            crow-fly car estimate.
        existing
            GeoDataFrame of existing stations (fixed): demand within reach of one counts as
            already covered, and its minutes enter the mean-time tie-break.
        capacity_col, capacity
            Capacity per candidate (a column, or one number for all): demand weight a site can
            serve; each demand row is then served by at most one site within reach.
        admin_cols
            Demand columns carried onto :meth:`Plan.by_admin` (when present).
        """
        kw, extra = _geo_inputs(
            demand_gdf,
            candidates_gdf,
            weights_col=weights_col,
            max_minutes=max_minutes,
            service_radius_m=service_radius_m,
            model=model,
            existing=existing,
            capacity_col=capacity_col,
            capacity=capacity,
        )
        return _with_geo(cls(p=p, **kw), extra, demand_gdf, admin_cols)

    def _greedy(self, red):
        return _lazy_greedy(red, k_max=self.p)

    def _trivial_bound(self, red):
        g = np.sort(np.asarray(red.AT @ red.w).ravel())[::-1] if len(red.w) else np.zeros(1)
        top = float(g[: self.p].sum())
        if top < red.reachable:
            return red.before + top, "submodular"
        return red.before + red.reachable, "trivial"

    def _highs_kw(self):
        return {"p": self.p}

    def _side(self, plan):
        return {"p": self.p}


class Budget(_MaxCoverage):
    """Best sites with summed ``costs`` within ``budget`` (budgeted maximum coverage).

    Greedy picks by gain per cost among affordable sites, then compares with the best single
    affordable site and keeps the better (guarantee ½(1 − 1/e) of the optimum).
    """

    problem = "budget"

    def __init__(
        self, covers, weights=None, costs=None, budget: float = 0.0, already_covered=None, **kw
    ) -> None:
        super().__init__(covers, weights, already_covered, **kw)
        if costs is None:
            raise ValidationError("costs are required, one per candidate", field="costs")
        c = np.asarray(costs, dtype=float).ravel()
        if c.shape != (self.n_candidates,):
            raise ValidationError(
                f"costs has {c.size} values but there are {self.n_candidates} candidates",
                field="costs",
            )
        if not np.isfinite(c).all():
            raise ValidationError("costs must be finite (no NaN or missing)", field="costs")
        if (c < 0).any():
            raise ValidationError("costs must be ≥ 0", field="costs")
        try:
            b = float(budget)
        except (TypeError, ValueError):
            raise ValidationError(
                f"budget must be a number, got {budget!r}", field="budget"
            ) from None
        if not (math.isfinite(b) and b >= 0):
            raise ValidationError("budget must be finite and ≥ 0", field="budget")
        self.costs = c
        self.budget = b

    @classmethod
    def from_cost_matrix(
        cls,
        covers,
        weights=None,
        costs=None,
        budget: float = 0.0,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        capacity=None,
    ) -> Budget:
        """Build from ``covers`` (demand × candidate), ``costs`` per candidate and ``budget``.

        ``minutes``, ``existing_minutes`` and ``capacity`` as in :meth:`MCLP.from_cost_matrix`.
        """
        return cls(
            covers,
            weights,
            costs,
            budget,
            already_covered,
            minutes=minutes,
            existing_minutes=existing_minutes,
            capacity=capacity,
        )

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        *,
        budget: float,
        cost_col: str,
        weights_col: str | None = None,
        max_minutes: float | None = None,
        service_radius_m: float | None = None,
        model=None,
        existing=None,
        capacity_col: str | None = None,
        capacity: float | None = None,
        admin_cols: dict | None = None,
    ) -> Budget:
        """Best sites within ``budget`` from GeoDataFrames; ``cost_col`` of the candidates
        gives each site's cost (missing or negative costs are refused).

        Parameters
        ----------
        demand_gdf, candidates_gdf
            GeoDataFrames in any CRS (reprojected to EPSG:4326). Points; polygons are placed
            at their representative points (inside the polygon; a message says how many).
        weights_col
            Demand weight column (people); ``None`` means 1 per row.
        max_minutes
            Travel-time limit of the ``model``; or give ``service_radius_m`` (straight-line
            metres) instead, in which case the plan's "minutes" are straight-line kilometres.
        model
            A travel model from :mod:`geo.travel` (crow-fly or road network); default the
            crow-fly car estimate.
        existing
            GeoDataFrame of existing stations (fixed): demand within reach of one counts as
            already covered, and its minutes enter the mean-time tie-break.
        capacity_col, capacity
            Capacity per candidate (a column, or one number for all): demand weight a site can
            serve; each demand row is then served by at most one site within reach.
        admin_cols
            Demand columns carried onto :meth:`Plan.by_admin` (when present).
        """
        kw, extra = _geo_inputs(
            demand_gdf,
            candidates_gdf,
            weights_col=weights_col,
            max_minutes=max_minutes,
            service_radius_m=service_radius_m,
            model=model,
            existing=existing,
            capacity_col=capacity_col,
            capacity=capacity,
        )
        costs = _column(candidates_gdf, cost_col, "cost_col")
        return _with_geo(cls(costs=costs, budget=budget, **kw), extra, demand_gdf, admin_cols)

    def _greedy(self, red):
        sites, gains = _lazy_greedy(red, costs=self.costs, budget=self.budget)
        g0 = np.asarray(red.AT @ red.w).ravel() if len(red.w) else np.zeros(self.n_candidates)
        affordable = np.flatnonzero(self.costs <= self.budget)
        if len(affordable):
            j = int(affordable[np.argmax(g0[affordable])])
            if g0[j] > sum(gains) + 1e-12:
                return [j], [float(g0[j])]
        return sites, gains

    def _trivial_bound(self, red):
        # Fractional knapsack over single-site gains (valid by subadditivity).
        g0 = np.asarray(red.AT @ red.w).ravel() if len(red.w) else np.zeros(self.n_candidates)
        ok = (self.costs <= self.budget) & (g0 > 0)
        g, c = g0[ok], self.costs[ok]
        free = c == 0
        total = float(g[free].sum())
        g, c = g[~free], c[~free]
        order = np.argsort(-g / c, kind="stable")
        left = self.budget
        for gi, ci in zip(g[order], c[order], strict=True):
            if ci <= left:
                total += gi
                left -= ci
            else:
                total += gi * left / ci
                break
        if total < red.reachable:
            return red.before + total, "submodular"
        return red.before + red.reachable, "trivial"

    def _highs_kw(self):
        return {"costs": self.costs, "budget": self.budget}

    def _side(self, plan):
        return {"costs": self.costs, "budget": self.budget}

    def _extra(self, sites):
        return {"cost": float(self.costs[list(sites)].sum()) if len(sites) else 0.0}


class LSCP(_Problem):
    """Set covering: the fewest new sites so that ``target_share`` of all weight is covered.

    The share counts all demand weight (existing coverage included). An unreachable target is
    not an error: the plan has ``status="infeasible"``, reports ``best_share`` (all candidates
    together) and gives the fewest sites reaching that share instead.
    """

    problem = "lscp"

    def __init__(
        self,
        covers,
        weights=None,
        target_share: float = 1.0,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        capacity=None,
    ) -> None:
        if capacity is not None:
            raise ValidationError(
                "capacities are supported for MCLP (best k sites) and Budget, not for the "
                "fewest-sites problem",
                field="capacity",
            )
        super().__init__(
            covers, weights, already_covered, minutes=minutes, existing_minutes=existing_minutes
        )
        try:
            t = float(target_share)
        except (TypeError, ValueError):
            raise ValidationError(
                f"target_share must be a number, got {target_share!r}", field="target_share"
            ) from None
        if not (0 < t <= 1):
            raise ValidationError(
                f"target_share must be in (0, 1], got {target_share!r}", field="target_share"
            )
        if not self.weights.sum() > 0:
            raise ValidationError("total demand weight is 0: no share to reach", field="weights")
        self.target_share = t

    @classmethod
    def from_cost_matrix(
        cls,
        covers,
        weights=None,
        target_share: float = 1.0,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
    ) -> LSCP:
        """Build from ``covers`` (demand × candidate) and the share of weight to reach.

        ``minutes`` and ``existing_minutes`` as in :meth:`MCLP.from_cost_matrix` (no
        capacities for this problem).
        """
        return cls(
            covers,
            weights,
            target_share,
            already_covered,
            minutes=minutes,
            existing_minutes=existing_minutes,
        )

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        *,
        target_share: float = 1.0,
        weights_col: str | None = None,
        max_minutes: float | None = None,
        service_radius_m: float | None = None,
        model=None,
        existing=None,
        admin_cols: dict | None = None,
    ) -> LSCP:
        """Fewest sites reaching ``target_share`` of all demand weight, from GeoDataFrames.

        Parameters
        ----------
        demand_gdf, candidates_gdf
            GeoDataFrames in any CRS (reprojected to EPSG:4326). Points; polygons are placed
            at their representative points (inside the polygon; a message says how many).
        weights_col
            Demand weight column (people); ``None`` means 1 per row.
        max_minutes
            Travel-time limit of the ``model``; or give ``service_radius_m`` (straight-line
            metres) instead, in which case the plan's "minutes" are straight-line kilometres.
        model
            A travel model from :mod:`geo.travel` (crow-fly or road network); default the
            crow-fly car estimate.
        existing
            GeoDataFrame of existing stations (fixed): demand within reach of one counts as
            already covered, and its minutes enter the mean-time tie-break.
        admin_cols
            Demand columns carried onto :meth:`Plan.by_admin` (when present).
        """
        kw, extra = _geo_inputs(
            demand_gdf,
            candidates_gdf,
            weights_col=weights_col,
            max_minutes=max_minutes,
            service_radius_m=service_radius_m,
            model=model,
            existing=existing,
        )
        kw.pop("capacity")
        return _with_geo(cls(target_share=target_share, **kw), extra, demand_gdf, admin_cols)

    def _side(self, plan):
        return {"max_sites": len(plan.chosen)}

    def _solve(self, red, solver, time_limit_s, messages) -> Plan:
        tol = 1e-9 * max(red.total, 1.0)
        best_share = (red.before + red.reachable) / red.total
        need = self.target_share * red.total - red.before
        status = "feasible"
        if need > red.reachable + tol:
            messages.append(
                f"target share {self.target_share:.4g} is out of reach: all candidates "
                f"together cover {best_share:.4g}; planned for that share instead"
            )
            need = red.reachable
            status = "infeasible"
        need = max(0.0, need - tol)
        sites, gains = _lazy_greedy(red, need=need) if need > 0 else ([], [])
        # Lower bound on the number of sites: smallest k whose top-k single gains reach need.
        g0 = np.sort(np.asarray(red.AT @ red.w).ravel())[::-1] if len(red.w) else np.zeros(1)
        lb = int(np.searchsorted(np.cumsum(g0), need - tol)) + 1 if need > 0 else 0
        lb = min(lb, len(sites))
        source = "submodular"
        if need > 0 and lb < len(sites) and highs_available():
            if solver == "greedy":
                lp = _highs_solve(red, "lscp", need=need, relax=True, time_limit_s=time_limit_s)
                if lp.bound is not None and math.ceil(lp.bound - 1e-6) > lb:
                    lb, source = math.ceil(lp.bound - 1e-6), "lp"
            else:
                off = _dominated(red)
                off[list(sites)] = False
                res = _highs_solve(
                    red,
                    "lscp",
                    need=need,
                    time_limit_s=time_limit_s,
                    warm=sites,
                    fixed_off=off,
                )
                if res.message:
                    messages.append(res.message)
                if res.bound is not None and math.ceil(res.bound - 1e-6) > lb:
                    lb, source = math.ceil(res.bound - 1e-6), "mip"
                used = "greedy"
                if res.sites is not None:
                    e_sites, e_gains = _order(red, res.sites)
                    if sum(e_gains) >= need - tol and len(e_sites) <= len(sites):
                        sites, gains, used = e_sites, e_gains, "exact"
                    elif sum(e_gains) < need - tol:
                        messages.append("exact solution falls short of the target numerically")
                if used == "greedy":
                    messages.append(
                        f"exact did not finish ({res.status}) within {time_limit_s:g} s, "
                        "fell back to greedy"
                    )
                if res.status == "optimal" and used == "exact":
                    lb, source = len(sites), "mip"
                solver = used
        elif solver == "exact" and need > 0:
            solver = "exact" if lb == len(sites) else "greedy"
        k = len(sites)
        gap = (k - lb) / k if k else 0.0
        if status == "feasible" and k == lb:
            status = "optimal"
        if status == "infeasible":
            messages.append(f"best reachable share {best_share:.4g} needs {k} site(s)")
        return self._make(
            red, solver, status, sites, gains, lb, gap, source, messages, best_share=best_share
        )
