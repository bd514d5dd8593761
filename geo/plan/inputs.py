"""Input checks of the planning problems: matrices, weights, masks, minutes, capacities,
admin codes, and the GeoDataFrame front door's points, columns and travel model.

Every check raises :class:`~geo.errors.ValidationError` naming the field, with a message a
user can act on; nothing here solves anything.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from geo.errors import ValidationError
from geo.plan.matrix import coverage_matrix
from geo.travel.crowfly import CrowflyModel

#: Demand columns carried onto :meth:`Plan.by_admin`, by level.
ADMIN_COLS = {"county": "county_code", "township": "township_code"}


def _as_covers(covers) -> sp.csr_matrix:
    if sp.issparse(covers):
        # scipy-stubs: issparse narrows to SparseABC, which csr_matrix's overloads do not take
        A = sp.csr_matrix(covers)  # type: ignore[call-overload]
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
        # scipy-stubs: issparse narrows to SparseABC, which csr_matrix's overloads do not take
        M = sp.csr_matrix(minutes)  # type: ignore[call-overload]
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


def _as_admin(admin, m: int) -> dict[str, np.ndarray]:
    """Admin codes per level (``{"county": codes, ...}``), one code per demand row."""
    if admin is None:
        return {}
    if not isinstance(admin, dict):
        raise ValidationError(
            "admin must be a dict of level → codes, one per demand row", field="admin"
        )
    out: dict[str, np.ndarray] = {}
    for level, codes in admin.items():
        arr = np.asarray(codes, dtype=object).ravel()
        if arr.shape != (m,):
            raise ValidationError(
                f"admin[{level!r}] has {arr.size} codes but covers has {m} demand rows",
                field="admin",
            )
        out[str(level)] = arr
    return out


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
        # types-geopandas types a GeoSeries indexed by a bool mask as one geometry
        geom[area] = geom[area].representative_point()  # type: ignore[index, operator]
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
    admin_cols=None,
) -> tuple[dict, list[str]]:
    """Keyword arguments of a problem's constructor for ``from_geodataframe`` (matrix,
    minutes, weights, existing coverage, capacities, admin codes, model and limit), and the
    messages about the inputs (polygons placed at points)."""
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
        # A straight-line catchment: walking along the straight line, so the plan's minutes
        # are real minutes; the limit is the radius in this model's minutes.
        model = CrowflyModel("walk", circuity=1.0)
        max_minutes = float(model.minutes_for(r))
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
    admin = {
        level: demand_gdf[col].astype(object).to_numpy()
        for level, col in (ADMIN_COLS if admin_cols is None else admin_cols).items()
        if col in demand_gdf.columns
    }
    kw = {
        "covers": covers,
        "weights": weights,
        "already_covered": already,
        "minutes": minutes,
        "existing_minutes": existing_minutes,
        "capacity": capacity,
        "admin": admin,
        "model": model,
        "max_minutes": max_minutes,
    }
    return kw, messages
