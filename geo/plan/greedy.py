"""Heuristic solvers: lazy greedy, the 1-swap local search, and greedy with capacities.

All work on the reduced matrix (:mod:`geo.plan.reduction`) or, with capacities, on the
covering pairs (:class:`geo.plan.milp._Pairs`). None needs a MILP solver.
"""

from __future__ import annotations

import heapq
import math
import time
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from geo.plan.reduction import _Reduced

if TYPE_CHECKING:
    from geo.plan.milp import _Pairs

#: Limits of the 1-swap local search that improves greedy (``solve(improve=True)``).
LOCAL_SEARCH_MAX_ITER = 500
LOCAL_SEARCH_MAX_S = 20.0


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
            cnt: np.ndarray = np.asarray(sub.sum(axis=0)).ravel()
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
            assert budget is not None, "costs come with a budget"
            left = float(budget) - float(costs[S].sum())
            add_ok = costs <= left + 1e-12 * max(abs(float(budget)), 1.0)
        add = np.where(add_ok, gain, -np.inf)
        best_add = int(np.argmax(add))
        best_swap, best_val = None, add[best_add]
        if k:
            delta = gain[:, None] - loss[None, :] + (ATf @ U).toarray()
            if costs is not None:
                assert budget is not None, "costs come with a budget"
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
    sites: list[int] = []
    gains: list[float] = []
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
