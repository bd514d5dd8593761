"""The planning matrix: which candidate reaches which demand point, and in how many minutes.

:func:`coverage_matrix` asks the travel model for the minutes of every demand–candidate pair
within the limit (:meth:`geo.travel.base.TravelModel.pair_minutes`) and lays them out as two
csr matrices with one sparsity pattern. Planning never looks inside a travel model: any
model of :mod:`geo.travel` (crow-fly, road network, or one a deployment adds) works.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from geo.errors import ValidationError
from geo.travel.base import TravelModel
from geo.travel.crowfly import CrowflyModel

__all__ = ["coverage_matrix", "coverage_matrix_crowfly"]


def coverage_matrix(
    demand_lon, demand_lat, cand_lon, cand_lat, model, max_minutes: float
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Demand × candidate coverage and travel minutes through any travel model.

    The pairs come from the model's ``pair_minutes`` (demand points are the origins,
    candidates the destinations: worker → station, the direction of ``time_to_nearest``), so
    the minutes of a pair equal what the model's ``time_to_nearest`` gives for that single
    station.

    Parameters
    ----------
    demand_lon, demand_lat, cand_lon, cand_lat
        WGS-84 degrees (arrays).
    model
        A travel model from :mod:`geo.travel` (anything with ``pair_minutes``).
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
    else:
        if not isinstance(model, TravelModel):
            raise ValidationError(
                f"model {getattr(model, 'name', model)!r} cannot give a planning matrix: it "
                "is not a travel model of geo.travel (use the crow-fly or the road-network "
                "model)",
                field="model",
            )
        pairs = model.pair_minutes(d_lon, d_lat, c_lon, c_lat, max_minutes)
        rows, cols, mins = pairs.origin, pairs.destination, pairs.minutes
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

    The ``covers`` half of :func:`coverage_matrix` for a
    :class:`~geo.travel.crowfly.CrowflyModel`; ``bool``, shape
    ``(n_demand, n_candidates)``, sorted column indices per row.
    """
    if not isinstance(model, CrowflyModel):
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
