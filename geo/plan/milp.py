"""HiGHS models (through ``highspy``, optional): the covering MILP and the assignment MILP.

* :func:`_highs_solve`: sites ``x_j`` and covered rows ``y_i`` on the reduced matrix, with
  one side constraint (``p`` sites, a budget, or a share to reach), or its LP relaxation
  (simplex, or interior point for duals);
* :func:`_highs_assign`: the facility-assignment model with variables only on the covering
  pairs, for capacities and the mean-time tie-break.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from geo.plan.reduction import _Reduced

try:  # optional: the exact solver and LP bounds
    import highspy
except ImportError:  # pragma: no cover - exercised only without highspy
    highspy = None  # type: ignore[assignment]  # checked by highs_available()

#: Relative gap at which HiGHS may stop a MIP (tight: plans are small, answers compared).
MIP_REL_GAP = 1e-7
#: Message when HiGHS calls a MIP optimal without a finite dual bound: nothing is proven, so
#: the answer is a feasible plan and its bound comes from elsewhere.
UNPROVEN = "HiGHS reported 'optimal' without a proven bound (numerical trouble): not taken as proof"


def highs_available() -> bool:
    """Whether ``highspy`` (HiGHS) is importable: needed for ``solver="exact"`` and LP bounds."""
    return highspy is not None


@dataclass
class _MipResult:
    sites: list[int] | None
    bound: float | None  # in the units of the reduced objective (unscaled)
    status: str  # "optimal" | "time_limit" | "infeasible" | "unproven" | "error"
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
    full: bool = False,
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

    ``full=True`` (LSCP whose target needs every reachable row): no weighted side row at
    all, every ``y_i`` is fixed to 1, i.e. the plain set-cover rows ``Σ_j a_ij x_j ≥ 1``.
    Asking instead for ``Σ w y ≥ total − ε`` puts a near-tight float row in the model,
    which HiGHS may call infeasible (issue 11, item 9).

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
        assert p is not None, "mclp needs p"
        side = sp.hstack([sp.csr_matrix(np.ones((1, n))), sp.csr_matrix((1, m))])
        side_lo, side_hi = -math.inf, float(p)
    elif kind == "budget":
        assert costs is not None and budget is not None, "budget needs costs and budget"
        side = sp.hstack([sp.csr_matrix(costs.reshape(1, n)), sp.csr_matrix((1, m))])
        side_lo, side_hi = -math.inf, float(budget)
    elif full:  # lscp covering every row: the side row is free, y is fixed to 1 below
        side = sp.hstack([sp.csr_matrix((1, n)), sp.csr_matrix(ws.reshape(1, m))])
        side_lo, side_hi = -math.inf, math.inf
    else:  # lscp
        assert need is not None, "lscp needs need"
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
    lower = np.zeros(n + m)
    if full:
        lower[n:] = 1.0
    lp.col_lower_ = lower
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
    dual_bound = info.mip_dual_bound
    bound = float(dual_bound) * unscale if np.isfinite(dual_bound) else None
    if bound is not None and integral:  # whole-number objective: round the bound inwards
        bound = math.ceil(bound - 1e-6) if kind == "lscp" else math.floor(bound + 1e-6)
    sites = None
    if info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible:
        x = np.asarray(h.getSolution().col_value[:n])
        sites = [int(j) for j in np.flatnonzero(x > 0.5)]
    if status == S.kOptimal:
        if bound is None:  # seen on near-tight float rows: 'optimal', dual bound -inf, 0 nodes
            return _MipResult(sites, None, "unproven", UNPROVEN)
        return _MipResult(sites, bound, "optimal")
    if status in (S.kTimeLimit, S.kInterrupt, S.kIterationLimit, S.kSolutionLimit):
        return _MipResult(sites, bound, "time_limit")
    return _MipResult(sites, bound, "error", f"MIP ended with {h.modelStatusToString(status)}")


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
    ri: list[np.ndarray] = []
    ci: list[np.ndarray] = []
    vi: list[np.ndarray] = []
    lo: list[np.ndarray | list[float]] = []
    hi: list[np.ndarray | list[float]] = []
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
    limit = p if p is not None else max_sites
    if limit is not None:
        ri.append(np.full(n, nrow))
        ci.append(np.arange(n))
        vi.append(np.ones(n))
        lo.append([-inf])
        hi.append([float(limit)])
        nrow += 1
    if costs is not None:
        assert budget is not None, "costs come with a budget"
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
    dual_bound = info.mip_dual_bound
    bound = float(dual_bound) * unscale if np.isfinite(dual_bound) else None
    x = z = s = None
    if info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible:
        col = np.asarray(h.getSolution().col_value)
        x, z, s = col[:n] > 0.5, col[n : n + E], col[n + E :]
    if status == S.kOptimal:
        if bound is None:
            return _AssignResult(x, z, s, None, "unproven", UNPROVEN)
        return _AssignResult(x, z, s, bound, "optimal")
    if status in (S.kTimeLimit, S.kInterrupt, S.kIterationLimit, S.kSolutionLimit):
        return _AssignResult(x, z, s, bound, "time_limit")
    return _AssignResult(x, z, s, bound, "error", f"MIP ended with {h.modelStatusToString(status)}")
