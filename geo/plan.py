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
changes nothing in the answer and often shrinks the problem a lot.

The geo front door is :func:`coverage_matrix_crowfly`. Network models can provide the same
matrix later from per-candidate isochrones (a ``covers_from(candidates, max_minutes)`` hook on
:class:`~geo.travel.network.NetworkModel` returning demand indices per candidate); the
problems need only the matrix.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from geo.errors import ValidationError
from geo.index import lonlat_to_xyz, m_to_chord

try:  # optional: the exact solver and LP bounds
    import highspy
except ImportError:  # pragma: no cover - exercised only without highspy
    highspy = None

__all__ = [
    "LSCP",
    "MCLP",
    "Budget",
    "Plan",
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


def highs_available() -> bool:
    """Whether ``highspy`` (HiGHS) is importable: needed for ``solver="exact"`` and LP bounds."""
    return highspy is not None


# --------------------------------------------------------------------------------------------
# Geo front door
# --------------------------------------------------------------------------------------------


def coverage_matrix_crowfly(
    demand_lon, demand_lat, cand_lon, cand_lat, model, max_minutes: float
) -> sp.csr_matrix:
    """Boolean demand × candidate matrix: candidate within ``max_minutes`` by crow-fly.

    Parameters
    ----------
    demand_lon, demand_lat, cand_lon, cand_lat
        WGS-84 degrees (arrays).
    model
        A model with ``reach_m(max_minutes)`` (great-circle metres), e.g.
        :class:`~geo.travel.crowfly.CrowflyModel`.
    max_minutes
        The travel-time limit.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``bool``, shape ``(n_demand, n_candidates)``, sorted column indices per row.
    """
    if not max_minutes > 0:
        raise ValidationError("max_minutes must be > 0", field="max_minutes")
    if not hasattr(model, "reach_m"):
        raise ValidationError(
            f"model {getattr(model, 'name', model)!r} has no crow-fly reach; network models "
            "need per-candidate isochrones (not implemented yet)",
            field="model",
        )
    d_lon, d_lat = np.atleast_1d(demand_lon), np.atleast_1d(demand_lat)
    c_lon, c_lat = np.atleast_1d(cand_lon), np.atleast_1d(cand_lat)
    if d_lon.shape != d_lat.shape or c_lon.shape != c_lat.shape:
        raise ValidationError("lon and lat arrays differ in length", field="lon")
    m, n = len(d_lon), len(c_lon)
    if n == 0 or m == 0:
        return sp.csr_matrix((m, n), dtype=bool)
    radius = m_to_chord(float(model.reach_m(max_minutes)) * 1.0000001)
    cand_tree = cKDTree(lonlat_to_xyz(c_lon, c_lat).reshape(-1, 3))
    dem_tree = cKDTree(lonlat_to_xyz(d_lon, d_lat).reshape(-1, 3))
    # Sparse distance matrix between the two trees: vectorised, no per-point Python loop.
    dist = dem_tree.sparse_distance_matrix(cand_tree, radius, output_type="coo_matrix")
    covers = sp.csr_matrix(
        (np.ones(dist.nnz, dtype=bool), (dist.row, dist.col)), shape=(m, n), dtype=bool
    )
    covers.sort_indices()
    return covers


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
        ``covered_after − covered_before``.
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
        the Lagrangian), ``"lagrangian"``, ``"mip"``, ``"submodular"`` or
        ``"trivial"``.
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
        }


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
) -> _MipResult:
    """Build and solve the MILP (or its LP relaxation) with HiGHS.

    Columns ``x_j`` (binary site) then ``y_i`` (demand row covered, in [0, 1]; continuous is
    enough: some optimum has it integral). Rows ``y_i − Σ_j a_ij x_j ≤ 0`` plus one side
    constraint: ``Σ x ≤ p`` (MCLP), ``Σ c x ≤ budget`` (Budget) or ``Σ w y ≥ need`` (LSCP).

    ``relax=True, ipm=True`` runs interior point without crossover and returns the cover
    rows' duals (rescaled, as λ ≥ 0) whatever the status: any λ in [0, w] gives a valid bound
    through :func:`_lagrangian_value`, so a time-out still yields one.
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
    lp.col_upper_ = np.ones(n + m)
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


class _Problem:
    """Shared setup: validated matrix, weights and existing coverage, reduced once."""

    problem = ""

    def __init__(self, covers, weights=None, already_covered=None) -> None:
        self.covers = _as_covers(covers)
        m, self.n_candidates = self.covers.shape
        self.weights = _as_weights(weights, m)
        self.already_covered = _as_mask(already_covered, m)
        self.messages: list[str] = []
        self._red: _Reduced | None = None

    @property
    def reduced(self) -> _Reduced:
        if self._red is None:
            self._red = _reduce(self.covers, self.weights, self.already_covered)
        return self._red

    def solve(
        self, solver: str = "greedy", time_limit_s: float = 60.0, improve: bool = True
    ) -> Plan:
        """Solve with ``"greedy"`` or ``"exact"`` (HiGHS MILP, ``time_limit_s`` seconds).

        ``improve`` (MCLP/Budget): polish greedy with a 1-swap local search (it never lowers
        the objective); exact is warm-started from the polished plan.
        """
        if solver not in SOLVERS:
            raise ValidationError(
                f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}", field="solver"
            )
        if not time_limit_s > 0:
            raise ValidationError("time_limit_s must be > 0", field="time_limit_s")
        t0 = time.perf_counter()
        messages = list(self.messages)
        red = self.reduced
        if solver == "exact" and not highs_available():
            messages.append("exact solver needs highspy (HiGHS), not installed: used greedy")
            solver = "greedy"
        self._improve = bool(improve)
        plan = self._solve(red, solver, time_limit_s, messages)
        plan.run_time_s = time.perf_counter() - t0
        plan.stats = {**red.stats, **plan.stats}
        return plan

    # Subclasses implement _solve and the pieces below.
    def _solve(self, red, solver, time_limit_s, messages) -> Plan:  # pragma: no cover
        raise NotImplementedError

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
        res = _highs_solve(
            red, self.problem, time_limit_s=time_limit_s, warm=sites, **self._highs_kw()
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
        plan = self._plan(
            red, "exact", status, e_sites, e_gains, bound, source, messages, **self._extra(e_sites)
        )
        if res.status == "optimal":
            plan.status = "optimal"  # proven within MIP_REL_GAP
        return plan


class MCLP(_MaxCoverage):
    """Maximal covering: choose at most ``p`` new sites to cover the most new weight.

    ``p`` larger than the number of candidates is capped, with a message (not refused).
    Plans may have fewer than ``p`` sites when no further site adds coverage.
    """

    problem = "mclp"

    def __init__(self, covers, weights=None, p: int = 1, already_covered=None) -> None:
        super().__init__(covers, weights, already_covered)
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
    def from_cost_matrix(cls, covers, weights=None, p: int = 1, already_covered=None) -> MCLP:
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
        """
        return cls(covers, weights, p, already_covered)

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


class Budget(_MaxCoverage):
    """Best sites with summed ``costs`` within ``budget`` (budgeted maximum coverage).

    Greedy picks by gain per cost among affordable sites, then compares with the best single
    affordable site and keeps the better (guarantee ½(1 − 1/e) of the optimum).
    """

    problem = "budget"

    def __init__(
        self, covers, weights=None, costs=None, budget: float = 0.0, already_covered=None
    ) -> None:
        super().__init__(covers, weights, already_covered)
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
        cls, covers, weights=None, costs=None, budget: float = 0.0, already_covered=None
    ) -> Budget:
        """Build from ``covers`` (demand × candidate), ``costs`` per candidate and ``budget``."""
        return cls(covers, weights, costs, budget, already_covered)

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
        self, covers, weights=None, target_share: float = 1.0, already_covered=None
    ) -> None:
        super().__init__(covers, weights, already_covered)
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
        cls, covers, weights=None, target_share: float = 1.0, already_covered=None
    ) -> LSCP:
        """Build from ``covers`` (demand × candidate) and the share of weight to reach."""
        return cls(covers, weights, target_share, already_covered)

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
                res = _highs_solve(red, "lscp", need=need, time_limit_s=time_limit_s, warm=sites)
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
