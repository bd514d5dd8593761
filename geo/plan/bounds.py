"""Proven bounds for the maximising problems, and the preparation of the exact MCLP.

* :func:`_lagrangian_bound`: relax ``y_i ≤ Σ_j a_ij x_j`` with multipliers λ in [0, w]
  (subgradient, Polyak steps); no solver needed, equals the LP bound at convergence;
* :func:`_lagrangian_value`: the bound for any λ (e.g. interior-point LP duals);
* :func:`_fractional_knapsack`: the budget side of the relaxation;
* :func:`_dominated`: candidates an optimal plan never needs (fixed to 0 in the MILP);
* :func:`_mclp_bound_fixing`: a better incumbent and candidates fixed by the bound before
  the exact MCLP.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from geo.plan.greedy import _order
from geo.plan.milp import _highs_solve
from geo.plan.reduction import _Reduced

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
        assert p is not None, "p, or costs and a budget"
        k = min(int(p), len(c))
        top = float(np.sort(c)[::-1][:k].sum()) if k else 0.0
    else:
        assert budget is not None, "costs come with a budget"
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
            assert p is not None, "p, or costs and a budget"
            x = np.zeros(len(c))
            k = min(int(p), len(c))
            if k:
                x[np.argpartition(-c, k - 1)[:k]] = 1.0
        else:
            assert budget is not None, "costs come with a budget"
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
