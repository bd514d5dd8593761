"""Demand cells over a region (H3 hexagons or an equal-area grid) and their admin codes.

Every builder takes a region as a 6-digit code, a shapely (Multi)Polygon in WGS-84 or a
GeoSeries/GeoDataFrame (:func:`geo.regions.as_region_geometry`). ``h3`` is imported only by
the functions that need it.

Cells
-----
* :func:`h3_cells` keeps the H3 cells whose **centre** lies inside the region (H3's own
  ``center`` containment). It gives the same cells as ``h3.h3shape_to_cells`` but about 20×
  faster on a province: candidate cells are the children of the coarser (resolution − 3)
  cells overlapping the region plus one ring around them (a child can stick out of its
  parent), and their centres are tested with shapely's prepared ``contains_xy``. Guangxi at
  resolution 8 (≈ 314,000 cells) takes a few seconds.
* :func:`grid_cells` is a square grid in a fixed national equal-area CRS
  (:data:`~geo.demand.base.EQUAL_AREA_CRS`, Albers on WGS-84, lon_0 = 105°, parallels 25°
  and 47°), aligned on multiples of the cell size, so cell ids (``g1000m_<ix>_<iy>``) are
  stable across regions and every cell has the same area. Squares are **clipped** to the
  region, so the cells tile it exactly (border cells are partial, however small); a cell's
  point is its square's centre when that lies in the clipped part, else a point inside the
  part.
* Both record the region (WKB) in ``cells.attrs["region_wkb"]`` and a description in
  ``cells.attrs["cells"]``, and fill ``county_code``/``township_code`` with
  :func:`assign_admin`.

Admin codes of cells (:func:`assign_admin`)
-------------------------------------------
``county_code`` is the county outline containing the cell's point (vectorised
:meth:`Gazetteer.county_codes_at`); a point in no outline (a sliver between simplified
outlines) takes the nearest outline within 0.02° (about 2 km), else ``""``.
``township_code`` is the township of that county whose approximate position is nearest
(great-circle distance) — a Voronoi guess, since townships have no outlines and only about
60 % have a position; ``""`` when the county has no positioned township.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.demand.base import EQUAL_AREA_CRS, _area_km2, _gaz, _project, _transformer
from geo.errors import ValidationError
from geo.gazetteer import Division, Gazetteer
from geo.regions import as_region_geometry

#: Largest number of cells a builder makes (a finer resolution is refused with a hint).
MAX_CELLS = 3_000_000
#: A point in no county outline takes the nearest one within this distance (degrees).
SNAP_DEG = 0.02


def _cells_frame(
    cell_id: Iterable[str],
    lon: np.ndarray,
    lat: np.ndarray,
    geometry: np.ndarray,
    area_km2: np.ndarray,
    region: BaseGeometry,
    description: str,
    gazetteer: Gazetteer | None,
    assign: bool,
) -> gpd.GeoDataFrame:
    cells = gpd.GeoDataFrame(
        {
            "cell_id": pd.array(list(cell_id), dtype=object),
            "lon": np.asarray(lon, dtype=float),
            "lat": np.asarray(lat, dtype=float),
            "area_km2": np.asarray(area_km2, dtype=float),
            "county_code": "",
            "township_code": "",
        },
        geometry=gpd.GeoSeries(geometry, crs="EPSG:4326"),
        crs="EPSG:4326",
    )
    if assign:
        cells = assign_admin(cells, gazetteer)
    cells.attrs["region_wkb"] = shapely.to_wkb(region)
    cells.attrs["cells"] = description
    return cells


def _check_count(estimate: float, what: str, hint: str) -> None:
    if estimate > MAX_CELLS:
        raise ValidationError(
            f"{what} would make about {estimate:,.0f} cells (limit {MAX_CELLS:,}); {hint}",
            field="resolution",
        )


def h3_cells(
    polygon: object,
    resolution: int,
    *,
    gazetteer: Gazetteer | None = None,
    assign: bool = True,
) -> gpd.GeoDataFrame:
    """H3 cells (h3 v4) whose centre lies inside ``polygon`` (a region; see module docstring).

    Columns: ``cell_id`` (H3 index), ``lon``/``lat`` (cell centre), ``area_km2``,
    ``county_code``, ``township_code`` (when ``assign``), ``geometry`` (hexagon).
    """
    import h3

    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise ValidationError("H3 resolution must be an integer 0-15", field="resolution")
    res = int(resolution)
    if not 0 <= res <= 15:
        raise ValidationError("H3 resolution must be an integer 0-15", field="resolution")
    region = as_region_geometry(polygon, gazetteer)
    estimate = _area_km2(region) / h3.average_hexagon_area(res, "km^2")
    _check_count(estimate, f"H3 resolution {res}", "use a coarser resolution")
    ids, centres = _h3_fill(region, res)
    if not ids:
        raise ValidationError(
            f"no H3 cell of resolution {res} has its centre in the region; use a finer resolution",
            field="resolution",
        )
    polygons = _h3_polygons(ids)  # in one go: neighbours across chunks share vertices too
    areas = np.fromiter((h3.cell_area(c, "km^2") for c in ids), dtype=float, count=len(ids))
    return _cells_frame(
        ids,
        centres[:, 1],
        centres[:, 0],
        polygons,
        areas,
        region,
        f"H3 resolution {res}",
        gazetteer,
        assign,
    )


def _h3_polygons(ids: list[str]) -> np.ndarray:
    """Hexagons (WGS-84 shapely polygons) of H3 cells, built from coordinate arrays."""
    import h3

    if not ids:
        return np.empty(0, dtype=object)
    counts_parts, coords_parts = [], []
    for i in range(0, len(ids), 50_000):  # bounded Python lists; one array of vertices
        boundaries = [h3.cell_to_boundary(c) for c in ids[i : i + 50_000]]
        counts_parts.append(np.fromiter(map(len, boundaries), dtype=np.int64))
        # cells crossing an icosahedron edge have up to 10 vertices: one flat list
        coords_parts.append(np.array([p for b in boundaries for p in b], dtype=float)[:, ::-1])
    counts = np.concatenate(counts_parts)
    coords = _shared_vertices(np.concatenate(coords_parts))
    rings = shapely.linearrings(coords, indices=np.repeat(np.arange(len(ids)), counts))
    return np.asarray(shapely.polygons(rings))  # already an array: rings is one


#: Vertices of neighbouring H3 cells closer than this (degrees, ≈ 0.1 mm) are one vertex.
VERTEX_SNAP_DEG = 1e-9


def _shared_vertices(coords: np.ndarray) -> np.ndarray:
    """``coords`` (n × 2, lon/lat) with vertices that differ by rounding made identical.

    H3 computes each cell's boundary on the cell's own icosahedron face. Where two cells on
    different faces meet (and at the extra "distortion" vertices where an edge crosses a
    face edge, at odd resolutions), the shared vertex comes out a few units in the last
    place apart in the two cells. Such cells are not a correctly noded coverage, and
    GEOS's coverage union (the dissolve of gaps and service areas) refuses them
    ("CoverageUnion cannot process incorrectly noded inputs"; Shaanxi at resolution 7).
    Every group of vertices within :data:`VERTEX_SNAP_DEG` of each other takes the
    coordinates of one of them, so neighbours share their vertices exactly.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    packed = coords[:, 0] + 1j * coords[:, 1]
    unique, inverse = np.unique(packed, return_inverse=True)
    pairs = cKDTree(np.column_stack([unique.real, unique.imag])).query_pairs(
        VERTEX_SNAP_DEG, output_type="ndarray"
    )
    if len(pairs) == 0:
        return coords
    n = len(unique)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    # the first (smallest) vertex of each group stands for the group
    first = np.full(label.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(n))
    canonical = unique[first[label]][inverse.ravel()]
    return np.column_stack([canonical.real, canonical.imag])


def _h3_fill(region: BaseGeometry, res: int) -> tuple[list[str], np.ndarray]:
    """H3 cells with their centre in ``region`` (same as ``h3shape_to_cells``, faster), and
    their centres as (lat, lon) rows."""
    import h3

    shape = h3.geo_to_h3shape(region)
    if res <= 3:
        candidates = sorted(h3.h3shape_to_cells(shape, res))
        return candidates, _latlng(candidates)
    parents = h3.h3shape_to_cells_experimental(shape, res - 3, contain="overlap")
    around: set[str] = set()
    for p in parents:
        around.update(h3.grid_disk(p, 1))
    candidates = [c for p in sorted(around) for c in h3.cell_to_children(p, res)]
    if not candidates:
        return [], np.empty((0, 2))
    ll = _latlng(candidates)
    keep = shapely.contains_xy(region, ll[:, 1], ll[:, 0])
    return [c for c, k in zip(candidates, keep, strict=True) if k], ll[keep]


def _latlng(ids: list[str]) -> np.ndarray:
    import h3

    return np.array([h3.cell_to_latlng(c) for c in ids], dtype=float).reshape(-1, 2)


def grid_cells(
    polygon: object,
    cell_size_m: float,
    *,
    gazetteer: Gazetteer | None = None,
    assign: bool = True,
) -> gpd.GeoDataFrame:
    """Square cells of ``cell_size_m`` metres in :data:`EQUAL_AREA_CRS`, clipped to the region.

    Columns as :func:`h3_cells`; ``cell_id`` is ``g<size>m_<ix>_<iy>`` (grid indices in the
    national equal-area CRS), ``geometry`` the clipped square in WGS-84.
    """
    try:
        size = float(cell_size_m)
    except (TypeError, ValueError):
        size = float("nan")
    if not (math.isfinite(size) and 10 <= size <= 200_000):
        raise ValidationError("cell size must be 10-200,000 metres", field="cell_size_m")
    region = as_region_geometry(polygon, gazetteer)
    fwd = _transformer("EPSG:4326", EQUAL_AREA_CRS)
    inv = _transformer(EQUAL_AREA_CRS, "EPSG:4326")
    region_p = _project(region, fwd)
    _check_count(region_p.area / size**2, f"{size:g} m cells", "use larger cells")
    shapely.prepare(region_p)
    x0, y0, x1, y1 = region_p.bounds
    ix = np.arange(math.floor(x0 / size), math.ceil(x1 / size), dtype=np.int64)
    iy = np.arange(math.floor(y0 / size), math.ceil(y1 / size), dtype=np.int64)
    block = 64  # clip border cells against the region clipped to 64×64-cell blocks
    rows_per_chunk = max(block, (250_000 // max(len(ix), 1)) // block * block)
    parts_ix, parts_iy, parts_geom = [], [], []
    for start in range(0, len(iy), rows_per_chunk):
        mesh_x, mesh_y = np.meshgrid(ix, iy[start : start + rows_per_chunk])
        gx, gy = mesh_x.ravel(), mesh_y.ravel()
        boxes = shapely.box(gx * size, gy * size, (gx + 1) * size, (gy + 1) * size)
        hit = np.nonzero(shapely.intersects(region_p, boxes))[0]
        if not len(hit):
            continue
        inside = shapely.contains_properly(region_p, boxes[hit])
        geoms = boxes[hit].copy()
        border = hit[~inside]
        if len(border):
            bkey = (gx[border] // block) * 1_000_003 + (gy[border] // block)
            clipped = np.empty(len(border), dtype=object)
            for key in np.unique(bkey):
                sel = bkey == key
                bx, by = gx[border][sel][0] // block, gy[border][sel][0] // block
                piece = shapely.clip_by_rect(
                    region_p,
                    (bx * block - 1) * size,
                    (by * block - 1) * size,
                    ((bx + 1) * block + 1) * size,
                    ((by + 1) * block + 1) * size,
                )
                if not piece.is_valid:
                    piece = shapely.make_valid(piece)
                clipped[sel] = shapely.intersection(boxes[border[sel]], piece)
            geoms[~inside] = clipped
        parts_ix.append(gx[hit])
        parts_iy.append(gy[hit])
        parts_geom.append(geoms)
    if not parts_geom:
        raise ValidationError("no grid cell intersects the region", field="region")
    gx = np.concatenate(parts_ix)
    gy = np.concatenate(parts_iy)
    geoms = np.concatenate(parts_geom)
    # Keep the polygonal part of each clipped cell; drop cells that only touch the region.
    odd = np.nonzero(~np.isin(shapely.get_type_id(geoms), (3, 6)))[0]
    for i in odd.tolist():
        geoms[i] = _polygonal(geoms[i])
    area = shapely.area(geoms)
    keep = area > 0
    gx, gy, geoms, area = gx[keep], gy[keep], geoms[keep], area[keep]
    cx, cy = (gx + 0.5) * size, (gy + 0.5) * size
    centre_in = shapely.contains_xy(geoms, cx, cy)
    if not centre_in.all():
        rep = shapely.point_on_surface(geoms[~centre_in])
        cx, cy = cx.astype(float), cy.astype(float)
        cx[~centre_in], cy[~centre_in] = shapely.get_x(rep), shapely.get_y(rep)
    lon, lat = inv.transform(cx, cy)
    geoms_ll = _project(geoms, inv, densify=None)
    label = f"{size:g}"
    ids = [f"g{label}m_{a}_{b}" for a, b in zip(gx.tolist(), gy.tolist(), strict=True)]
    return _cells_frame(
        ids,
        lon,
        lat,
        geoms_ll,
        area / 1e6,
        region,
        f"{label} m grid (equal-area, clipped to the region)",
        gazetteer,
        assign,
    )


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 0]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


# ------------------------------------------------------------------------------------------
# Admin codes of cells


@lru_cache(maxsize=4)
def _township_index(gaz: Gazetteer) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Positioned townships by county outline code: (lon, lat, codes)."""
    groups: dict[str, list[Division]] = {}
    for d in gaz.units:
        if d.level == "township" and d.lon is not None and d.lat is not None:
            groups.setdefault(d.county_code or d.prefecture_code, []).append(d)
    return {
        key: (
            np.array([d.lon for d in ds], dtype=float),
            np.array([d.lat for d in ds], dtype=float),
            np.array([d.code for d in ds], dtype=object),
        )
        for key, ds in groups.items()
    }


def _nearest_townships(
    gaz: Gazetteer, lon: np.ndarray, lat: np.ndarray, county: np.ndarray
) -> np.ndarray:
    from geo.crs import distance_m

    out = np.full(len(lon), "", dtype=object)
    index = _township_index(gaz)
    if not len(lon):
        return out
    keys, inverse = np.unique(county.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(keys)))
    start = 0
    for k, key in enumerate(keys):
        rows = order[start : bounds[k]]
        start = bounds[k]
        group = index.get(key)
        if group is None or not key:
            continue
        tx, ty, codes = group
        step = max(1, 2_000_000 // len(tx))
        for i in range(0, len(rows), step):
            r = rows[i : i + step]
            d = distance_m(lon[r, None], lat[r, None], tx[None, :], ty[None, :])
            out[r] = codes[np.argmin(d, axis=1)]
    return out


_PREPARE_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _outlines(gaz: Gazetteer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """County outlines (prepared once, under a lock: preparing mutates), codes, bounds."""
    outlines = gaz.counties
    geoms = outlines.geometry.to_numpy()
    with _PREPARE_LOCK:
        shapely.prepare(geoms)
    return geoms, outlines["code"].to_numpy(), shapely.bounds(geoms)


def _county_codes(gaz: Gazetteer, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Same answer as :meth:`Gazetteer.county_codes_at` (first outline in table order on a
    shared border), 10-20× faster for many points: each outline, prepared, tests only the
    points within its bounding box (points sorted by longitude)."""
    out = np.full(len(lon), "", dtype=object)
    finite = np.isfinite(lon) & np.isfinite(lat)
    if not finite.any():
        return out
    outlines = gaz.counties
    geoms, codes, bounds = _outlines(gaz)
    box = shapely.box(lon[finite].min(), lat[finite].min(), lon[finite].max(), lat[finite].max())
    order = np.nonzero(finite)[0]
    order = order[np.argsort(lon[order], kind="stable")]
    xs = lon[order]
    todo = np.ones(len(lon), dtype=bool)
    for i in np.sort(outlines.sindex.query(box)):
        x0, y0, x1, y1 = bounds[i]
        cand = order[np.searchsorted(xs, x0, "left") : np.searchsorted(xs, x1, "right")]
        cand = cand[todo[cand] & (lat[cand] >= y0) & (lat[cand] <= y1)]
        if not len(cand):
            continue
        hit = cand[shapely.intersects_xy(geoms[i], lon[cand], lat[cand])]
        out[hit] = codes[i]
        todo[hit] = False
    return out


_Frame = TypeVar("_Frame", gpd.GeoDataFrame, pd.DataFrame)


def assign_admin(cells: _Frame, gazetteer: Gazetteer | None = None) -> _Frame:
    """A copy of ``cells`` with ``county_code``/``township_code`` from its ``lon``/``lat``.

    County: the outline containing the point, else the nearest within :data:`SNAP_DEG`,
    else ``""``. Township: nearest positioned township of that county (approximate).
    """
    gaz = _gaz(gazetteer)
    lon = cells["lon"].to_numpy(dtype=float)
    lat = cells["lat"].to_numpy(dtype=float)
    county = _county_codes(gaz, lon, lat)
    missing = np.nonzero(county == "")[0]
    if len(missing):
        outlines = gaz.counties
        ok = np.isfinite(lon[missing]) & np.isfinite(lat[missing])
        missing = missing[ok]
        if len(missing):
            pts = shapely.points(lon[missing], lat[missing])
            src, idx = outlines.sindex.query_nearest(pts, max_distance=SNAP_DEG, all_matches=False)
            county[missing[src]] = outlines["code"].to_numpy()[idx]
    out = cells.copy()
    out["county_code"] = county.astype(object)
    out["township_code"] = _nearest_townships(gaz, lon, lat, county)
    return out
