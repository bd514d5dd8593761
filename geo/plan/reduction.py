"""Problem reduction shared by every solver: the matrix the solvers actually see.

Demand already covered, demand that no candidate reaches and zero-weight demand are dropped,
and rows with identical cover sets are merged (weights summed). This changes nothing in the
answer and often shrinks the problem a lot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


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
        # scipy-stubs types sparse ``!=`` as object's (bool); it returns a sparse matrix.
        if (rep != A).nnz == 0:  # type: ignore[attr-defined]
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
