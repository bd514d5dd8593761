"""Demand: where the workers are, as cells carrying population, units or weights (DESIGN §5).

Coverage is "the share of demand whose travel time to the nearest station is at most one
hour". This module builds that demand: cells over a region (H3 hexagons or a metric grid),
filled from a population raster, from an admin table spread over its units, from weighted
points, or — with no population at all — one unit per township (or county) seat. No
population data ships with Yizhan (DESIGN §4): every figure comes from a file the user gives.

Regions
-------
:func:`region_polygon` is the union of the bundled county outlines (WGS-84) whose code,
prefecture code or province code is the given 6-digit code, so a province or prefecture is
exactly the union of its counties (the bundled prefecture and province layers are that same
union). County-less prefectures (东莞 441900, 中山, 儋州, 嘉峪关) have their own outline in the
county layer and behave as counties. Townships have no outlines: their codes are refused.

The demand table (:class:`Demand`)
----------------------------------
``cells`` is a GeoDataFrame in EPSG:4326 with ``cell_id``, ``lon``/``lat`` (the point travel
is measured from: the H3 cell centre, a grid cell's centre or a point inside its clipped part,
or the point itself), ``demand`` (float ≥ 0), ``county_code``, ``township_code`` and
``geometry`` (the cell polygon, or a Point for point demand). Cell builders add ``area_km2``;
point and seat demand add ``name``. ``unit`` says what ``demand`` counts: ``population``
(people), ``units`` (townships, counties, points each counted once) or ``weight`` (relative
weights from a points file). ``warnings`` carry counts and a few examples of everything that
was dropped or guessed; ``stats`` carries the numbers behind them.

Cells
-----
* :func:`h3_cells` keeps the H3 cells whose **centre** lies inside the region (H3's own
  ``center`` containment). It gives the same cells as ``h3.h3shape_to_cells`` but about 20×
  faster on a province: candidate cells are the children of the coarser (resolution − 3)
  cells overlapping the region plus one ring around them (a child can stick out of its
  parent), and their centres are tested with shapely's prepared ``contains_xy``. Guangxi at
  resolution 8 (≈ 314,000 cells) takes a few seconds.
* :func:`grid_cells` is a square grid in a fixed national equal-area CRS
  (:data:`EQUAL_AREA_CRS`, Albers on WGS-84, lon_0 = 105°, parallels 25° and 47°), aligned
  on multiples of the cell size, so cell ids (``g1000m_<ix>_<iy>``) are stable across
  regions and every cell has the same area. Squares are **clipped** to the region, so the
  cells tile it exactly (border cells are partial, however small); a cell's point is its
  square's centre when that lies in the clipped part, else a point inside the part.
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

Demand sources
--------------
(a) :func:`from_raster` — a population-count GeoTIFF (e.g. WorldPop: people per pixel;
    a density raster, people per km², would give wrong totals and cannot be detected).
    Only the window covering the region is read, in strips of a few million pixels. The
    raster is never resampled (resampling would change the totals): the cell polygons and
    the region are densified (0.01°) and **transformed into the raster's CRS**. The region
    is burnt onto the pixel grid with ``rasterio.features.rasterize`` (pixel-centre rule);
    each pixel whose centre lies in the region goes to the cell containing its centre
    (cells burnt the same way for fine rasters, an STRtree point query for coarse ones
    with fewer pixels than 4 per cell: same answer, whichever is cheaper), or, in
    the thin border ribbon not covered by H3 cells, to the nearest cell; so the demand total
    is exactly the sum of the pixels whose centre lies in the region. Nodata, NaN and
    negative pixels count as 0 (negative ones are warned about). A raster without a CRS, or
    not overlapping the region, is refused with its bounds; partial coverage and pixels
    larger than the cells are warned about. ``stats`` reports the population read in the
    region against the window's total.
(b) :func:`from_admin_table` — CSV/XLSX with a code column (county 6-digit, township 9- or
    12-digit; headers 代码/区划代码/code …) and a population column (人口/常住人口/population
    …, a ``(万人)`` unit multiplies by 10,000). Each unit's population is spread over its
    cells in proportion to cell area (cells belong to a unit by ``county_code`` /
    ``township_code``; prefecture and province rows by their counties). Rows that are
    subtotals of other rows (a county row next to its townships, a 合计 row with a code)
    are dropped; a township with no cell of its own (no position, or none nearest) is
    spread over its county's cells. A county/prefecture/province only partly inside the
    region (a province row over a prefecture's cells, a county cut by a drawn polygon)
    places only its share of the population by outline area (warned); townships have no
    outlines, so a township with cells in the region places all of its population.
    Unknown codes and units outside the region are warnings; none matching, duplicate
    codes with different values, and a non-numeric or negative population (naming the
    row) are errors.
(c) :func:`from_points` — weighted points (CSV with lon/lat[/weight] columns, or GeoJSON
    points with a ``weight``/``人数``/``population`` property); each point is its own cell
    (a Point geometry); codes by reverse geocoding; points outside the region are dropped
    and counted. Coordinates may be declared GCJ-02 or BD-09 (``crs=``).
(d) :func:`from_admin_seats` — one unit per township (or county) of the region that has a
    position ("share of townships whose seat is within an hour"). Townships without a
    position are **skipped** and counted in a warning, not put at the county seat: stacking
    them there would count them covered whenever the seat is, overstating coverage.
    Township positions are approximate (bounding-box centres).

Every function taking a region accepts a 6-digit code, a shapely (Multi)Polygon in WGS-84,
or a GeoSeries/GeoDataFrame. ``h3`` and ``rasterio`` are imported only by the functions that
need them.
"""

from __future__ import annotations

import json
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import FileFormatError, ValidationError
from geo.gazetteer import Division, Gazetteer, default_gazetteer

#: Equal-area CRS of grid cells and area computations (Albers, China-wide parallels).
EQUAL_AREA_CRS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +datum=WGS84 +units=m +no_defs"
#: What ``Demand.demand`` counts.
UNITS = ("population", "units", "weight")
#: Columns every ``Demand.cells`` frame has, in this order (extra columns follow).
CELL_COLUMNS = ("cell_id", "lon", "lat", "demand", "county_code", "township_code", "geometry")
#: Largest number of cells a builder makes (a finer resolution is refused with a hint).
MAX_CELLS = 3_000_000
#: A point in no county outline takes the nearest one within this distance (degrees).
SNAP_DEG = 0.02
#: Polygons are densified to this spacing (degrees) before being projected.
DENSIFY_DEG = 0.01
_STRIP_PIXELS = 4_000_000
_EXAMPLES = 5


# ------------------------------------------------------------------------------------------
# The demand table


@dataclass
class Demand:
    """Demand cells and what they mean (see the module docstring)."""

    cells: gpd.GeoDataFrame
    unit: str
    source: str
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValidationError(f"unit must be one of {', '.join(UNITS)}", field="unit")
        missing = [c for c in CELL_COLUMNS if c not in self.cells.columns]
        if missing:
            raise ValidationError(f"demand cells lack columns {missing}", field="cells")

    def total(self) -> float:
        """Total demand (people, units or weight, as ``unit`` says)."""
        return float(self.cells["demand"].sum())

    def to_geojson(self) -> dict:
        """A GeoJSON FeatureCollection (dict) of the cells; ``demand`` holds unit, source,
        total and warnings as a foreign member."""
        fc = self.cells.to_geo_dict(na="null", drop_id=True)
        fc["demand"] = {
            "unit": self.unit,
            "source": self.source,
            "total": self.total(),
            "warnings": list(self.warnings),
        }
        return fc


def _demand_frame(cells: gpd.GeoDataFrame | pd.DataFrame, demand: np.ndarray) -> gpd.GeoDataFrame:
    """``cells`` (copied) with ``demand`` set and the standard columns first."""
    out = gpd.GeoDataFrame(cells.copy(), geometry="geometry", crs="EPSG:4326")
    out["demand"] = np.asarray(demand, dtype=float)
    for col in ("county_code", "township_code"):
        if col not in out.columns:
            out[col] = ""
    order = list(CELL_COLUMNS) + [c for c in out.columns if c not in CELL_COLUMNS]
    out = out[order]
    out.attrs = dict(cells.attrs)
    return out


# ------------------------------------------------------------------------------------------
# Regions


def _gaz(gazetteer: Gazetteer | None) -> Gazetteer:
    return gazetteer if gazetteer is not None else default_gazetteer()


def _clean_code(value: object) -> str:
    """An admin code as text: NFKC, no spaces or Excel ``'`` prefix, no trailing ``.0``."""
    text = unicodedata.normalize("NFKC", str(value)).strip().lstrip("'")
    text = re.sub(r"\s+", "", text)
    return re.sub(r"\.0+$", "", text)


def _region_code(code: object) -> str:
    text = _clean_code(code)
    if re.fullmatch(r"\d{12}", text) and text.endswith("000000"):
        text = text[:6]
    if re.fullmatch(r"\d{9}|\d{12}", text):
        raise ValidationError(
            f"{text} is a township code; townships have no outlines, use the county "
            f"{text[:6]} or give a polygon",
            field="code",
        )
    if not re.fullmatch(r"\d{6}", text):
        raise ValidationError(f"{code!r} is not a 6-digit admin code", field="code")
    return text


def region_counties(code: str, gazetteer: Gazetteer | None = None) -> gpd.GeoDataFrame:
    """The bundled county outlines (rows of ``gazetteer.counties``) making up a region.

    ``code`` is a 6-digit province, prefecture or county code. Raises
    :class:`ValidationError` for unknown codes, township codes and units without outline.
    """
    gaz = _gaz(gazetteer)
    code = _region_code(code)
    c = gaz.counties
    rows = c[(c["code"] == code) | (c["prefecture_code"] == code) | (c["province_code"] == code)]
    if rows.empty:
        division = gaz.by_code.get(code)
        if division is None:
            raise ValidationError(f"unknown admin code {code}", field="code")
        raise ValidationError(
            f"{code} {division.name} has no outline in the bundled data", field="code"
        )
    return rows.copy()


def region_polygon(code: str, gazetteer: Gazetteer | None = None) -> BaseGeometry:
    """The outline (WGS-84 shapely geometry) of a province, prefecture or county.

    The union of its county outlines (see the module docstring); cached per code.
    """
    return _region_polygon(_gaz(gazetteer), _region_code(code))


@lru_cache(maxsize=64)
def _region_polygon(gaz: Gazetteer, code: str) -> BaseGeometry:
    geom = region_counties(code, gaz).geometry.union_all()
    shapely.prepare(geom)
    return geom


def _as_region(region: object, gazetteer: Gazetteer | None) -> BaseGeometry:
    """A polygonal WGS-84 geometry from a code, a shapely geometry or a GeoSeries/frame."""
    if isinstance(region, (str, int, np.integer)):
        return region_polygon(str(region), gazetteer)
    if isinstance(region, (gpd.GeoDataFrame, gpd.GeoSeries)):
        series = region.geometry if isinstance(region, gpd.GeoDataFrame) else region
        if series.crs is not None and not series.crs.equals("EPSG:4326"):
            series = series.to_crs("EPSG:4326")
        region = series.union_all()
    if not isinstance(region, BaseGeometry):
        raise ValidationError(
            "region must be a 6-digit admin code or a WGS-84 polygon", field="region"
        )
    if region.geom_type == "GeometryCollection":
        region = shapely.union_all(
            [g for g in shapely.get_parts(region) if g.geom_type in ("Polygon", "MultiPolygon")]
        )
    if region.is_empty or region.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationError(
            f"region must be a non-empty polygon, not {region.geom_type}", field="region"
        )
    if not region.is_valid:
        region = shapely.make_valid(region)
    shapely.prepare(region)
    return region


def _transformer(src: object, dst: object):
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def _project(geoms, transformer, densify: float | None = DENSIFY_DEG):
    """Geometries (scalar or array) with their coordinates transformed (after densifying)."""
    if densify:
        geoms = shapely.segmentize(geoms, densify)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _area_km2(geoms) -> np.ndarray | float:
    """Area (km²) of WGS-84 geometries, in the equal-area CRS."""
    projected = _project(geoms, _transformer("EPSG:4326", EQUAL_AREA_CRS))
    return shapely.area(projected) / 1e6


# ------------------------------------------------------------------------------------------
# Cells


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
    region = _as_region(polygon, gazetteer)
    estimate = _area_km2(region) / h3.average_hexagon_area(res, "km^2")
    _check_count(estimate, f"H3 resolution {res}", "use a coarser resolution")
    ids, centres = _h3_fill(region, res)
    if not ids:
        raise ValidationError(
            f"no H3 cell of resolution {res} has its centre in the region; use a finer resolution",
            field="resolution",
        )
    polygons = np.concatenate(
        [_h3_polygons(ids[i : i + 50_000]) for i in range(0, len(ids), 50_000)]
    )
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

    boundaries = [h3.cell_to_boundary(c) for c in ids]
    counts = np.fromiter(map(len, boundaries), dtype=np.int64, count=len(ids))
    if (counts == counts[0]).all():
        coords = np.asarray(boundaries, dtype=float)[:, :, ::-1]
        rings = shapely.linearrings(np.concatenate([coords, coords[:, :1]], axis=1))
    else:  # cells crossing an icosahedron edge have up to 10 vertices
        coords = np.array([p for b in boundaries for p in b], dtype=float)[:, ::-1]
        rings = shapely.linearrings(coords, indices=np.repeat(np.arange(len(ids)), counts))
    return shapely.polygons(rings)


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
    region = _as_region(polygon, gazetteer)
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
        gx, gy = np.meshgrid(ix, iy[start : start + rows_per_chunk])
        gx, gy = gx.ravel(), gy.ravel()
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


def assign_admin(
    cells: gpd.GeoDataFrame | pd.DataFrame, gazetteer: Gazetteer | None = None
) -> gpd.GeoDataFrame | pd.DataFrame:
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


# ------------------------------------------------------------------------------------------
# Helpers shared by the sources


def _examples(items: Iterable[object], n: int) -> str:
    items = list(items)[:_EXAMPLES]
    text = ", ".join(str(i) for i in items)
    return text + (", …" if n > len(items) else "")


def _fmt_bounds(b: Iterable[float]) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in b) + ")"


def _polygon_cells(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not isinstance(cells, gpd.GeoDataFrame) or "geometry" not in cells:
        raise ValidationError("cells must be a GeoDataFrame of cell polygons", field="cells")
    if not len(cells):
        raise ValidationError("no cells", field="cells")
    if cells.crs is not None and not cells.crs.equals("EPSG:4326"):
        cells = cells.to_crs("EPSG:4326")
    kinds = set(cells.geometry.geom_type.unique())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise ValidationError(
            f"raster demand needs polygon cells (h3_cells, grid_cells), not {sorted(kinds)}",
            field="cells",
        )
    for col in ("cell_id", "lon", "lat"):
        if col not in cells.columns:
            raise ValidationError(f"cells lack the column {col!r}", field="cells")
    return cells


def _cells_region(cells: gpd.GeoDataFrame, region: object, gazetteer) -> BaseGeometry:
    if region is not None:
        return _as_region(region, gazetteer)
    wkb = cells.attrs.get("region_wkb")
    if wkb is not None:
        return _as_region(shapely.from_wkb(wkb), gazetteer)
    return _as_region(cells.geometry.union_all(), gazetteer)


def _cell_weights(cells: gpd.GeoDataFrame) -> np.ndarray:
    """Area of each cell (km²) for spreading; 1 for point cells."""
    if "area_km2" in cells.columns:
        area = cells["area_km2"].to_numpy(dtype=float)
    else:
        geoms = cells.geometry.to_numpy()
        area = np.asarray(_area_km2(geoms), dtype=float)
    area = np.where(np.isfinite(area) & (area > 0), area, 0.0)
    if not area.any():
        area = np.ones(len(cells))
    return area


# ------------------------------------------------------------------------------------------
# (a) raster


def _geojson_like(geoms: np.ndarray) -> list[dict]:
    """GeoJSON-like dicts for ``rasterize``; simple polygons are built from coordinate arrays
    (``__geo_interface__`` costs about 25 µs a polygon, this about 5)."""
    out: list[dict | None] = [None] * len(geoms)
    simple = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    where = np.nonzero(simple)[0]
    coords, idx = shapely.get_coordinates(
        shapely.get_exterior_ring(geoms[where]), return_index=True
    )
    splits = np.cumsum(np.bincount(idx, minlength=len(where)))[:-1]
    for i, ring in zip(where.tolist(), np.split(coords, splits), strict=True):
        out[i] = {"type": "Polygon", "coordinates": [ring.tolist()]}
    for i in np.nonzero(~simple)[0].tolist():
        out[i] = geoms[i].__geo_interface__
    return out


def _affine(t, x, y):
    """Apply an affine transform to column/row (or x/y) scalars or arrays."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def _is_wgs84(crs) -> bool:
    from pyproj import CRS

    c = CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    return c.equals("EPSG:4326", ignore_axis_order=True) or c.equals(
        "OGC:CRS84", ignore_axis_order=True
    )


def from_raster(
    path: str | Path,
    cells: gpd.GeoDataFrame,
    *,
    region: object = None,
    band: int = 1,
    method: str = "auto",
    gazetteer: Gazetteer | None = None,
) -> Demand:
    """Population from a count raster (people per pixel), summed into polygon ``cells``.

    ``region`` defaults to the region the cells were built for (``cells.attrs``), else the
    union of the cells. ``method`` chooses how pixel centres find their cell:
    ``rasterize`` (burn the cells onto the pixel grid; cost grows with the cells),
    ``points`` (an STRtree query per pixel centre in the region; cost grows with the
    pixels) or ``auto`` (``points`` when the window has fewer than 4 pixels per cell).
    Both give the same sums. See the module docstring for the rest.

    Raises
    ------
    ValidationError
        Raster without CRS or georeferencing, not overlapping the region, bad band, cells
        that are not polygons.
    FileFormatError
        A file rasterio cannot read.
    """
    import rasterio
    from affine import Affine
    from rasterio import features, windows
    from rasterio.errors import RasterioIOError
    from rasterio.warp import transform_bounds

    if method not in ("auto", "rasterize", "points"):
        raise ValidationError("method must be auto, rasterize or points", field="method")
    cells = _polygon_cells(cells)
    region_ll = _cells_region(cells, region, gazetteer)
    path = Path(path)
    name = path.name
    try:
        src = rasterio.open(path)
    except (RasterioIOError, OSError) as exc:
        raise FileFormatError(f"cannot read raster {name}: {exc}") from None
    with src:
        if src.crs is None:
            raise ValidationError(
                f"raster {name} has no coordinate system (CRS); re-export it with its CRS "
                "or set one (gdal_edit.py -a_srs EPSG:4326 …)",
                field="raster",
            )
        if src.transform.is_identity and not src.gcps[0]:
            raise ValidationError(f"raster {name} is not georeferenced", field="raster")
        if not 1 <= band <= src.count:
            raise ValidationError(
                f"raster {name} has {src.count} band(s); band {band} does not exist",
                field="band",
            )
        wgs84 = _is_wgs84(src.crs)
        crs_text = src.crs.to_string()
        if wgs84:
            region_r = region_ll
            cells_r = cells.geometry.to_numpy()
        else:
            to_r = _transformer("EPSG:4326", src.crs.to_wkt())
            region_r = _project(region_ll, to_r)
            cells_r = _project(cells.geometry.to_numpy(), to_r)
        shapely.prepare(region_r)
        t = src.transform
        inv = ~t
        rx0, ry0, rx1, ry1 = region_r.bounds
        corner_c, corner_r = zip(
            *(_affine(inv, x, y) for x in (rx0, rx1) for y in (ry0, ry1)), strict=True
        )
        col0 = max(0, math.floor(min(corner_c)) - 1)
        col1 = min(src.width, math.ceil(max(corner_c)) + 1)
        row0 = max(0, math.floor(min(corner_r)) - 1)
        row1 = min(src.height, math.ceil(max(corner_r)) + 1)
        footprint = shapely.Polygon(
            [
                _affine(t, c, r)
                for c, r in ((0, 0), (src.width, 0), (src.width, src.height), (0, src.height))
            ]
        )
        if col0 >= col1 or row0 >= row1 or not footprint.intersects(region_r):
            ll_text = ""
            if not wgs84:
                try:
                    ll = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
                    ll_text = f" ≈ lon/lat {_fmt_bounds(ll)}"
                except Exception:  # pragma: no cover - exotic CRS
                    pass
            raise ValidationError(
                f"raster {name} does not overlap the region: raster bounds "
                f"{_fmt_bounds(src.bounds)} in {crs_text}{ll_text}; region bounds lon/lat "
                f"{_fmt_bounds(region_ll.bounds)}",
                field="raster",
            )
        n = len(cells)
        sums = np.zeros(n, dtype=float)
        tree = shapely.STRtree(cells_r)
        window_total = 0.0
        pixels_in_region = nodata_in_region = negative = 0
        loose_x: list[np.ndarray] = []
        loose_y: list[np.ndarray] = []
        loose_v: list[np.ndarray] = []
        ncols = col1 - col0
        strip = max(1, _STRIP_PIXELS // ncols)
        if method == "auto":
            method = "points" if ncols * (row1 - row0) < 4 * n else "rasterize"
        use_points = method == "points"
        for r in range(row0, row1, strip):
            h = min(strip, row1 - r)
            win = windows.Window(col0, r, ncols, h)
            # The strip's own transform and footprint, computed here: rasterio's helpers use
            # Affine ``*``, which affine ≥ 2.5 warns about.
            ox, oy = _affine(t, col0, r)
            wt = Affine(t.a, t.b, ox, t.d, t.e, oy)
            corners = [_affine(wt, c, rr) for c in (0, ncols) for rr in (0, h)]
            data = src.read(band, window=win, masked=True)
            values = np.ma.filled(data.astype(np.float64), np.nan)
            valid = ~np.ma.getmaskarray(data) & np.isfinite(values)
            neg = valid & (values < 0)
            negative += int(neg.sum())
            values = np.where(valid & ~neg, values, 0.0)
            window_total += float(values.sum())
            strip_box = shapely.box(
                min(c[0] for c in corners),
                min(c[1] for c in corners),
                max(c[0] for c in corners),
                max(c[1] for c in corners),
            )
            if not region_r.intersects(strip_box):
                continue
            inside = features.rasterize(
                [(region_r, 1)], out_shape=(h, ncols), transform=wt, fill=0, dtype="uint8"
            ).astype(bool)
            pixels_in_region += int(inside.sum())
            nodata_in_region += int((inside & ~valid).sum())
            take = inside & (values > 0)
            if not take.any():
                continue
            if use_points:
                # Each pixel centre in the region → the cell containing it (STRtree), in
                # chunks to bound the memory of the point geometries.
                rr_all, cc_all = np.nonzero(take)
                v_all = values[take]
                for k in range(0, len(v_all), 500_000):
                    rr, cc = rr_all[k : k + 500_000], cc_all[k : k + 500_000]
                    v = v_all[k : k + 500_000]
                    xs, ys = _affine(wt, cc + 0.5, rr + 0.5)
                    found, cell = tree.query(shapely.points(xs, ys), predicate="intersects")
                    found, first = np.unique(found, return_index=True)  # one cell on a border
                    sums += np.bincount(cell[first], weights=v[found], minlength=n)
                    loose = np.ones(len(v), dtype=bool)
                    loose[found] = False
                    if loose.any():
                        loose_x.append(xs[loose])
                        loose_y.append(ys[loose])
                        loose_v.append(v[loose])
                continue
            # Burn the cells touching the strip onto its pixel grid (pixel-centre rule).
            hits = tree.query(strip_box)
            if len(hits):
                shapes = _geojson_like(cells_r[hits])
                idx = features.rasterize(
                    zip(shapes, hits.tolist(), strict=True),
                    out_shape=(h, ncols),
                    transform=wt,
                    fill=-1,
                    dtype="int32",
                )
            else:
                idx = np.full((h, ncols), -1, dtype=np.int32)
            placed = take & (idx >= 0)
            sums += np.bincount(idx[placed], weights=values[placed], minlength=n)
            loose = take & (idx < 0)
            if loose.any():
                rr, cc = np.nonzero(loose)
                xs, ys = _affine(wt, cc + 0.5, rr + 0.5)
                loose_x.append(np.asarray(xs, dtype=float))
                loose_y.append(np.asarray(ys, dtype=float))
                loose_v.append(values[loose])
        pixel_area = abs(t.a * t.e - t.b * t.d)
        if wgs84:
            lat_c = region_ll.centroid.y
            pixel_km2 = pixel_area * 111.32**2 * math.cos(math.radians(lat_c))
        else:
            factor = src.crs.linear_units_factor[1] if src.crs.is_projected else 1.0
            pixel_km2 = pixel_area * factor**2 / 1e6
        outside_share = region_r.difference(footprint).area / region_r.area
    warnings: list[str] = []
    loose_people = 0.0
    loose_count = 0
    if loose_v:
        lx, ly, lv = (np.concatenate(a) for a in (loose_x, loose_y, loose_v))
        src_i, cell_i = tree.query_nearest(shapely.points(lx, ly), all_matches=False)
        np.add.at(sums, cell_i, lv[src_i])
        loose_people = float(lv.sum())
        loose_count = len(lv)
    region_total = float(sums.sum())
    if pixels_in_region == 0:
        raise ValidationError(
            f"raster {name}: no pixel centre lies inside the region (region bounds lon/lat "
            f"{_fmt_bounds(region_ll.bounds)})",
            field="raster",
        )
    if outside_share > 0.001:
        warnings.append(
            f"the raster covers only {100 * (1 - outside_share):.1f} % of the region; "
            "population outside it counts as 0"
        )
    if nodata_in_region:
        warnings.append(f"{nodata_in_region:,} nodata pixels in the region counted as 0")
    if negative:
        warnings.append(f"{negative:,} negative pixel values in the window counted as 0")
    if loose_count:
        warnings.append(
            f"{loose_count:,} pixels ({loose_people:,.0f} people) in the region but outside "
            "every cell (the border ribbon) were added to the nearest cell"
        )
    cell_km2 = float(np.median(_cell_weights(cells)))
    if pixel_km2 > cell_km2:
        warnings.append(
            f"raster pixels ({pixel_km2:.3g} km²) are larger than the cells ({cell_km2:.3g} "
            "km²): many cells get no pixel; use coarser cells or a finer raster"
        )
    stats = {
        "region_total": region_total,
        "window_total": window_total,
        "pixels_in_region": pixels_in_region,
        "nodata_pixels_in_region": nodata_in_region,
        "negative_pixels": negative,
        "border_pixels": loose_count,
        "border_population": loose_people,
        "pixel_km2": pixel_km2,
        "raster_crs": crs_text,
        "raster_coverage": 1 - outside_share,
    }
    source = (
        f"raster {name} (band {band}, {crs_text}, {pixel_km2:.3g} km² pixels): "
        f"{region_total:,.0f} people in the region of {window_total:,.0f} in the window read; "
        f"pixels summed into {cells.attrs.get('cells', 'cells')} by pixel centre"
        + ("" if wgs84 else ", cell outlines transformed into the raster CRS")
    )
    return Demand(_demand_frame(cells, sums), "population", source, warnings, stats)


# ------------------------------------------------------------------------------------------
# (b) admin table

#: Accepted headers (normalised: NFKC, lower case, bracketed units removed), preferred first.
CODE_HEADERS = (
    "区划代码",
    "行政区划代码",
    "统计用区划代码",
    "代码",
    "区划编码",
    "编码",
    "code",
    "adcode",
    "admin_code",
    "division_code",
)
POPULATION_HEADERS = (
    "常住人口",
    "人口",
    "总人口",
    "人口数",
    "常住人口数",
    "户籍人口",
    "population",
    "pop",
    "total_population",
    "人数",
)


def _norm_header(header: object) -> tuple[str, float]:
    """(normalised header, unit scale): ``常住人口（万人）`` → (``常住人口``, 10000)."""
    text = unicodedata.normalize("NFKC", str(header)).strip().lower()
    units = " ".join(re.findall(r"[(\[](.*?)[)\]]", text))
    text = re.sub(r"[(\[].*?[)\]]", "", text).strip()
    text = re.sub(r"[\s\-]+", "_", text)
    return text, (1e4 if "万" in units else 1.0)


def _find_column(
    columns: list[str], wanted: tuple[str, ...], explicit: str | None, what: str
) -> tuple[str, float, list[str]]:
    """(column, unit scale, other candidate columns)."""
    normed = {c: _norm_header(c) for c in columns}
    if explicit is not None:
        if explicit not in normed:
            raise ValidationError(
                f"no column {explicit!r}; columns are {', '.join(map(str, columns))}", field=what
            )
        return explicit, normed[explicit][1], []
    found = [c for w in wanted for c in columns if normed[c][0] == w]
    if not found:  # 2020年常住人口, 县级区划代码 …
        found = [c for w in wanted if len(w) > 3 for c in columns if w in normed[c][0]]
    if not found:
        raise ValidationError(
            f"no {what} column; columns are {', '.join(map(str, columns))}; accepted: "
            f"{', '.join(wanted)}",
            field=what,
        )
    first = found[0]
    others = [c for c in dict.fromkeys(found) if c != first]
    return first, normed[first][1], others


def _read_table(path: str | Path | pd.DataFrame, sheet: str | int | None) -> pd.DataFrame:
    """A CSV/XLSX table as text (every cell a string, blanks ``""``)."""
    if isinstance(path, pd.DataFrame):
        return path.astype(object).where(path.notna(), "").astype(str)
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"no such file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(
                path, sheet_name=0 if sheet is None else sheet, dtype=str, keep_default_na=False
            )
        sep = "\t" if suffix == ".tsv" else ","
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(
                    path, dtype=str, keep_default_na=False, encoding=encoding, sep=sep
                )
            except UnicodeDecodeError:
                continue
        raise FileFormatError(f"{path.name}: not UTF-8 or GB18030 text")
    except (ValueError, OSError, KeyError) as exc:
        if isinstance(exc, FileFormatError):
            raise
        raise FileFormatError(f"cannot read {path.name}: {exc}") from None


def _resolve_table_code(text: str, gaz: Gazetteer) -> Division | None:
    if re.fullmatch(r"\d{9}", text):
        text += "000"
    if re.fullmatch(r"\d{12}", text) and text.endswith("000000"):
        text = text[:6]
    if not re.fullmatch(r"\d{6}|\d{12}", text):
        return None
    division = gaz.by_code.get(text)
    if division is None or division.level == "village":
        return None
    return division


def _area_share(code: str, region: BaseGeometry | None, gaz: Gazetteer) -> float:
    """Share of the unit's outline area inside ``region`` (1 when inside or unknown)."""
    if region is None:
        return 1.0
    try:
        unit = region_polygon(code, gaz)
    except ValidationError:
        return 1.0
    if region.contains(unit):
        return 1.0
    inside = float(_area_km2(unit.intersection(region)) / _area_km2(unit))
    return 1.0 if inside > 0.999 else float(inside)


def from_admin_table(
    path: str | Path | pd.DataFrame,
    cells: gpd.GeoDataFrame,
    *,
    code_column: str | None = None,
    population_column: str | None = None,
    sheet: str | int | None = None,
    gazetteer: Gazetteer | None = None,
) -> Demand:
    """Population by admin unit (CSV/XLSX), spread over ``cells`` by cell area.

    See the module docstring for the rules. Row numbers in messages are the file's (the
    header is row 1).

    Raises
    ------
    ValidationError
        No code or population column; a non-numeric or negative population (the row is
        named); duplicate codes with different populations; no known code; no unit in the
        region.
    FileFormatError
        An unreadable file.
    """
    gaz = _gaz(gazetteer)
    if not isinstance(cells, gpd.GeoDataFrame) or not len(cells):
        raise ValidationError("cells must be a non-empty GeoDataFrame", field="cells")
    for col in ("county_code", "township_code"):
        if col not in cells.columns:
            cells = assign_admin(cells, gaz)
            break
    table = _read_table(path, sheet)
    name = "table" if isinstance(path, pd.DataFrame) else Path(path).name
    columns = [str(c) for c in table.columns]
    table.columns = columns
    code_col, _, _ = _find_column(columns, CODE_HEADERS, code_column, "code")
    pop_col, scale, other_pop = _find_column(
        columns, POPULATION_HEADERS, population_column, "population"
    )
    warnings: list[str] = []
    if other_pop:
        warnings.append(f"population read from column {pop_col!r}; also found {other_pop}")
    codes = table[code_col].map(_clean_code)
    raw_pop = table[pop_col].astype(str).str.strip()
    rownum = np.arange(len(table)) + 2
    blank = (codes == "") & (raw_pop == "")
    looks_like_code = codes.str.fullmatch(r"\d{6}|\d{9}|\d{12}")
    # Populations must be readable wherever the code looks like one.
    number = pd.to_numeric(raw_pop.str.replace(r"[,，\s_]", "", regex=True), errors="coerce")
    number = number.astype(float)
    bad = looks_like_code & ~(np.isfinite(number) & (number >= 0))
    if bad.any():
        i = int(np.nonzero(bad.to_numpy())[0][0])
        more = int(bad.sum()) - 1
        raise ValidationError(
            f"{name} row {rownum[i]} (code {codes.iloc[i]}): population {raw_pop.iloc[i]!r} "
            "is not a non-negative number" + (f" (and {more} more rows)" if more else ""),
            field=pop_col,
        )
    # Resolve codes.
    divisions = [
        _resolve_table_code(c, gaz) if ok else None
        for c, ok in zip(codes.tolist(), looks_like_code.tolist(), strict=True)
    ]
    unknown = [
        (codes.iloc[i] or "(empty)")
        for i, d in enumerate(divisions)
        if d is None and not blank.iloc[i]
    ]
    if unknown:
        warnings.append(
            f"{len(unknown)} table rows had unknown codes: {_examples(unknown, len(unknown))}"
        )
    rows: dict[str, tuple[Division, float, int]] = {}
    dup_same = []
    for i, d in enumerate(divisions):
        if d is None:
            continue
        value = float(number.iloc[i]) * scale
        if d.code in rows:
            _, prev, prev_row = rows[d.code]
            if not math.isclose(prev, value, rel_tol=1e-9, abs_tol=1e-9):
                raise ValidationError(
                    f"{name}: code {d.code} appears in rows {prev_row} and {rownum[i]} with "
                    f"different populations ({prev:g}, {value:g})",
                    field=code_col,
                )
            dup_same.append(d.code)
            continue
        rows[d.code] = (d, value, int(rownum[i]))
    if not rows:
        raise ValidationError(
            f"{name}: none of the {len(table) - int(blank.sum())} rows has a known admin code "
            f"(column {code_col!r}); examples: {_examples(unknown, len(unknown))}",
            field=code_col,
        )
    if dup_same:
        warnings.append(
            f"{len(dup_same)} duplicate rows (same code and population) counted once: "
            f"{_examples(dup_same, len(dup_same))}"
        )
    # Subtotals: rows whose unit contains another row's unit.
    ancestors: set[str] = set()
    for d, _, _ in rows.values():
        ancestors.update(
            a for a in (d.province_code, d.prefecture_code, d.county_code) if a and a != d.code
        )
    subtotals = [c for c in rows if c in ancestors]
    if subtotals:
        mismatched = []
        for code in subtotals:
            children = sum(
                v
                for c, (d, v, _) in rows.items()
                if c not in ancestors
                and code in (d.province_code, d.prefecture_code, d.county_code)
            )
            total = rows[code][1]
            if abs(children - total) > 0.005 * max(total, 1.0):
                mismatched.append(f"{code} ({total:,.0f} vs {children:,.0f})")
        warnings.append(
            f"{len(subtotals)} rows are subtotals of finer rows and were not spread: "
            f"{_examples(subtotals, len(subtotals))}"
        )
        if mismatched:
            warnings.append(
                f"{len(mismatched)} subtotals differ from the sum of their finer rows (the "
                f"difference is not spread): {_examples(mismatched, len(mismatched))}"
            )
        for code in subtotals:
            del rows[code]
    # Keys of cells at each level.
    outlines = gaz.counties
    county_of_cell = cells["county_code"].astype(str).to_numpy()
    pref_map = dict(zip(outlines["code"], outlines["prefecture_code"], strict=True))
    prov_map = dict(zip(outlines["code"], outlines["province_code"], strict=True))
    cell_keys = {
        "township": cells["township_code"].astype(str).to_numpy(),
        "county": county_of_cell,
        "prefecture": np.array([pref_map.get(c, "") or "" for c in county_of_cell], dtype=object),
        "province": np.array([prov_map.get(c, "") or "" for c in county_of_cell], dtype=object),
    }
    present = {level: set(keys.tolist()) - {""} for level, keys in cell_keys.items()}
    pops: dict[str, dict[str, float]] = {level: {} for level in cell_keys}
    fallback, outside = [], []
    outside_pop = 0.0
    for code, (d, value, _) in rows.items():
        level = d.level
        key = code
        if level == "prefecture" and code in present["county"]:
            level = "county"  # a county-less prefecture (东莞) has its own outline
        if level == "township" and code not in present["township"]:
            key = d.county_code or d.prefecture_code
            level = "county"
            if key in present["county"]:
                fallback.append(code)
        if key not in present[level]:
            outside.append(code)
            outside_pop += value
            continue
        pops[level][key] = pops[level].get(key, 0.0) + value
    if fallback:
        warnings.append(
            f"{len(fallback)} townships have no cell of their own (no position, or no cell "
            f"nearest to it) and were spread over their county: "
            f"{_examples(fallback, len(fallback))}"
        )
    if outside:
        warnings.append(
            f"{len(outside)} table units have no cell in the region ({outside_pop:,.0f} "
            f"people not placed): {_examples(outside, len(outside))}"
        )
    if len(outside) == len(rows):
        raise ValidationError(
            f"{name}: none of the table's {len(rows)} units has a cell in the region",
            field=code_col,
        )
    # Units only partly inside the region (a province row over a prefecture's cells, a
    # county cut by a drawn polygon) place only their in-region share of the population.
    partial: list[str] = []
    partial_before = partial_after = 0.0
    polygonal = cells.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    region = _cells_region(cells, None, gaz) if polygonal else None
    for level in ("county", "prefecture", "province"):
        for key, value in list(pops[level].items()):
            share = _area_share(key, region, gaz)
            if share < 1.0:
                pops[level][key] = value * share
                partial.append(key)
                partial_before += value
                partial_after += value * share
    if partial:
        warnings.append(
            f"{len(partial)} table units lie partly outside the region: "
            f"{partial_after:,.0f} of their {partial_before:,.0f} people placed, by area "
            f"share: {_examples(partial, len(partial))}"
        )
    weights = _cell_weights(cells)
    demand = np.zeros(len(cells), dtype=float)
    for level, by_key in pops.items():
        if not by_key:
            continue
        keys = pd.Series(cell_keys[level])
        unit_pop = keys.map(pd.Series(by_key, dtype=float)).to_numpy(dtype=float)
        unit_w = keys.map(pd.Series(weights).groupby(keys).sum()).to_numpy(dtype=float)
        share = np.divide(weights, unit_w, out=np.zeros_like(weights), where=unit_w > 0)
        demand += np.nan_to_num(unit_pop) * share
    placed = sum(sum(v.values()) for v in pops.values())
    stats = {
        "rows": len(table),
        "units_spread": sum(len(v) for v in pops.values()),
        "unknown_rows": len(unknown),
        "subtotal_rows": len(subtotals),
        "units_outside": len(outside),
        "population_outside": outside_pop,
        "units_partly_outside": len(partial),
        "population_partly_outside": partial_before - partial_after,
        "population_placed": placed,
    }
    source = (
        f"admin table {name} (codes {code_col!r}, population {pop_col!r}"
        + (", ×10,000" if scale != 1 else "")
        + f"): {stats['units_spread']} units, {placed:,.0f} people spread over "
        f"{cells.attrs.get('cells', 'cells')} by cell area"
    )
    return Demand(_demand_frame(cells, demand), "population", source, warnings, stats)


# ------------------------------------------------------------------------------------------
# (c) points

LON_HEADERS = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_HEADERS = ("lat", "latitude", "y", "纬度")
#: Weight headers counting people (unit "population"), then plain weights (unit "weight").
PEOPLE_HEADERS = (
    "人数",
    "职工人数",
    "职工数",
    "从业人员",
    "人口",
    "population",
    "workers",
    "employees",
)
WEIGHT_HEADERS = ("weight", "权重")
NAME_HEADERS = ("name", "名称", "单位名称", "企业名称", "地点")


def _pick(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    normed = {c: _norm_header(c)[0] for c in columns}
    return next((c for w in wanted for c in columns if normed[c] == w), None)


def _read_points(path: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """(frame with lon, lat[, weight][, name] as text, warnings, file label)."""
    warnings: list[str] = []
    if not isinstance(path, pd.DataFrame) and Path(path).suffix.lower() in (".geojson", ".json"):
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise FileFormatError(f"cannot read {p.name} as GeoJSON: {exc}") from None
        if isinstance(data, dict) and data.get("type") == "FeatureCollection":
            features = data.get("features") or []
        elif isinstance(data, dict) and data.get("type") == "Feature":
            features = [data]
        else:
            raise FileFormatError(f"{p.name}: not a GeoJSON FeatureCollection")
        records, polygons = [], 0
        for i, feat in enumerate(features, start=1):
            geom = (feat or {}).get("geometry") or {}
            kind = geom.get("type")
            if kind == "Point":
                x, y = [*(geom.get("coordinates") or []), None, None][:2]
            elif kind in ("Polygon", "MultiPolygon"):
                pt = shapely.geometry.shape(geom).representative_point()
                x, y = pt.x, pt.y
                polygons += 1
            else:
                raise ValidationError(
                    f"{p.name} feature {i}: geometry {kind} is not a point", field="geometry"
                )
            props = feat.get("properties") or {}
            records.append({"lon": x, "lat": y, **{str(k): v for k, v in props.items()}})
        if polygons:
            warnings.append(f"{polygons} polygon features were replaced by a point inside them")
        frame = pd.DataFrame(records)
        frame = frame.astype(object).where(frame.notna(), "").astype(str)
        return frame, warnings, p.name
    label = "table" if isinstance(path, pd.DataFrame) else Path(path).name
    return _read_table(path, None), warnings, label


def from_points(
    path: str | Path | pd.DataFrame,
    region: object = None,
    *,
    crs: str = "wgs84",
    gazetteer: Gazetteer | None = None,
) -> Demand:
    """Weighted points (CSV lon/lat[/weight] or GeoJSON points), each its own demand cell.

    ``region`` (code or polygon): points outside are dropped and counted; without it,
    points outside every bundled county outline are. ``crs`` declares the coordinates
    (``wgs84``, ``gcj02``, ``bd09``). Unit: ``population`` for a people column (人数,
    population …), ``weight`` for a ``weight`` column, else ``units`` (1 per point).

    Raises
    ------
    ValidationError
        No lon/lat columns, a bad coordinate or a non-numeric/negative weight (row named).
    """
    from geo.crs import to_wgs84

    gaz = _gaz(gazetteer)
    frame, warnings, label = _read_points(path)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    lon_col, lat_col = _pick(columns, LON_HEADERS), _pick(columns, LAT_HEADERS)
    if lon_col is None or lat_col is None:
        raise ValidationError(
            f"{label}: needs longitude and latitude columns ({', '.join(LON_HEADERS)} / "
            f"{', '.join(LAT_HEADERS)}); columns are {', '.join(columns)}",
            field="lon",
        )
    people_col = _pick(columns, PEOPLE_HEADERS)
    weight_col = people_col or _pick(columns, WEIGHT_HEADERS)
    unit = "population" if people_col else ("weight" if weight_col else "units")
    name_col = _pick(columns, NAME_HEADERS)
    is_geojson = label.lower().endswith((".geojson", ".json"))
    first = 1 if is_geojson else 2
    what = "feature" if is_geojson else "row"
    blank = (frame[lon_col].str.strip() == "") & (frame[lat_col].str.strip() == "")
    if weight_col is not None:
        blank &= frame[weight_col].str.strip() == ""
    frame = frame[~blank.to_numpy()]
    numbers = np.nonzero(~blank.to_numpy())[0] + first
    if not len(frame):
        raise ValidationError(f"{label}: no points", field="lon")
    lon = pd.to_numeric(frame[lon_col].str.strip(), errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(frame[lat_col].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        raise ValidationError(
            f"{label} {what} {numbers[i]}: bad coordinates "
            f"({frame[lon_col].iloc[i]!r}, {frame[lat_col].iloc[i]!r})",
            field=lon_col,
        )
    if (np.abs(lon) <= 60).all() and (lat > 70).all():
        raise ValidationError(
            f"{label}: longitude and latitude look swapped (columns {lon_col!r}, {lat_col!r})",
            field=lon_col,
        )
    if weight_col is not None:
        raw = frame[weight_col].str.strip()
        weight = pd.to_numeric(
            raw.str.replace(r"[,，\s_]", "", regex=True), errors="coerce"
        ).to_numpy(dtype=float)
        bad = ~(np.isfinite(weight) & (weight >= 0))
        if bad.any():
            i = int(np.nonzero(bad)[0][0])
            raise ValidationError(
                f"{label} {what} {numbers[i]}: {weight_col} {raw.iloc[i]!r} is not a "
                "non-negative number",
                field=weight_col,
            )
    else:
        weight = np.ones(len(frame))
    lon, lat = to_wgs84(lon, lat, crs)
    lon, lat = np.atleast_1d(lon), np.atleast_1d(lat)
    names = frame[name_col].to_numpy(dtype=object) if name_col else np.full(len(frame), "")
    if region is not None:
        region_geom = _as_region(region, gazetteer)
        inside = shapely.intersects_xy(region_geom, lon, lat)
        why = "outside the region"
    else:
        inside = gaz.county_codes_at(lon, lat) != ""
        why = "outside every county outline"
    if not inside.all():
        out = numbers[~inside]
        warnings.append(
            f"{len(out)} points {why} were dropped ({what}s {_examples(out.tolist(), len(out))})"
        )
    if not inside.any():
        raise ValidationError(f"{label}: all {len(frame)} points are {why}", field="lon")
    cells = pd.DataFrame(
        {
            "cell_id": [f"p{n}" for n in numbers[inside]],
            "lon": lon[inside],
            "lat": lat[inside],
            "name": names[inside],
        }
    )
    cells = assign_admin(cells, gaz)
    gdf = gpd.GeoDataFrame(cells, geometry=shapely.points(cells["lon"], cells["lat"]), crs=4326)
    gdf.attrs["cells"] = "points"
    source = (
        f"points {label} ({int(inside.sum())} points, {crs}"
        + (f", weight column {weight_col!r}" if weight_col else ", 1 per point")
        + "); county from the outlines, township = nearest approximate township position"
    )
    stats = {"points": len(frame), "dropped": int((~inside).sum())}
    return Demand(_demand_frame(gdf, weight[inside]), unit, source, warnings, stats)


# ------------------------------------------------------------------------------------------
# (d) admin seats


def from_admin_seats(
    code: str, level: str = "township", *, gazetteer: Gazetteer | None = None
) -> Demand:
    """One unit of demand per township (or county) of a region that has a position.

    Units without a position are skipped and counted in a warning (see module docstring).
    ``county_code`` comes from the unit's code, not from its (approximate) position.
    """
    gaz = _gaz(gazetteer)
    if level not in ("township", "county"):
        raise ValidationError("level must be 'township' or 'county'", field="level")
    region_code = _region_code(code)
    top = gaz.by_code.get(region_code)
    if top is None:
        raise ValidationError(f"unknown admin code {region_code}", field="code")
    countyless = set(gaz.counties.loc[gaz.counties["level"] == "prefecture", "code"])
    units = []
    for d in gaz.units:
        if level == "township":
            ok = d.level == "township"
        else:
            ok = d.level == "county" or (d.level == "prefecture" and d.code in countyless)
        if ok and (d.code == region_code or d.ancestor(top.level) == region_code):
            units.append(d)
    if not units:
        raise ValidationError(f"{region_code} {top.name} has no {level} units", field="code")
    placed = [d for d in units if d.lon is not None and d.lat is not None]
    skipped = [d for d in units if d.lon is None or d.lat is None]
    warnings = []
    if skipped:
        warnings.append(
            f"{len(skipped)} of {len(units)} {level}s have no position and were skipped: "
            f"{_examples((f'{d.code} {d.name}' for d in skipped), len(skipped))}"
        )
    if not placed:
        raise ValidationError(
            f"no {level} of {region_code} {top.name} has a position", field="code"
        )
    lon = np.array([d.lon for d in placed], dtype=float)
    lat = np.array([d.lat for d in placed], dtype=float)
    county = np.array([d.county_code or d.prefecture_code or d.code for d in placed], dtype=object)
    found = gaz.county_codes_at(lon, lat)
    elsewhere = int((found != county).sum())
    if elsewhere:
        warnings.append(
            f"{elsewhere} {level} positions lie outside their county's outline (positions are "
            "approximate)"
        )
    cells = gpd.GeoDataFrame(
        {
            "cell_id": [d.code for d in placed],
            "lon": lon,
            "lat": lat,
            "county_code": county,
            "township_code": [d.code if level == "township" else "" for d in placed],
            "name": [d.name for d in placed],
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
    cells.attrs["cells"] = f"{level} seats"
    kinds = sorted({d.position_source for d in placed if d.position_source})
    source = (
        f"{level} seats of {region_code} {top.name}: 1 unit per {level} with a position "
        f"({len(placed)} of {len(units)}; positions from {', '.join(kinds) or 'the gazetteer'}"
        + (", approximate" if level == "township" else "")
        + ")"
    )
    stats = {"units": len(units), "placed": len(placed), "skipped": len(skipped)}
    return Demand(_demand_frame(cells, np.ones(len(placed))), "units", source, warnings, stats)
