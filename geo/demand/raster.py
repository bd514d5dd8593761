"""Demand from a population-count raster (:func:`from_raster`), summed into polygon cells.

A population-count GeoTIFF (e.g. WorldPop: people per pixel; a density raster, people per
km², would give wrong totals and cannot be detected). Only the window covering the region is
read, in strips of a few million pixels. The raster is never resampled (resampling would
change the totals): the cell polygons and the region are densified (0.01°) and
**transformed into the raster's CRS**. The region is burnt onto the pixel grid with
``rasterio.features.rasterize`` (pixel-centre rule); each pixel whose centre lies in the
region goes to the cell containing its centre (cells burnt the same way for fine rasters, an
STRtree point query for coarse ones with fewer pixels than 4 per cell: same answer,
whichever is cheaper), or, in the thin border ribbon not covered by H3 cells, to the nearest
cell; so the demand total is exactly the sum of the pixels whose centre lies in the region.
Nodata, NaN and negative pixels count as 0 (negative ones are warned about). A raster
without a CRS, or not overlapping the region, is refused with its bounds; partial coverage
and pixels larger than the cells are warned about. ``stats`` reports the population read in
the region against the window's total. ``rasterio`` is imported only when a raster is read.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import geopandas as gpd
import numpy as np
import shapely

from geo.demand.base import (
    Demand,
    _cell_weights,
    _cells_region,
    _demand_frame,
    _fmt_bounds,
    _project,
    _transformer,
)
from geo.errors import FileFormatError, ValidationError
from geo.gazetteer import Gazetteer

#: Pixels read at a time (a strip of whole rows of the window).
_STRIP_PIXELS = 4_000_000


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
    return cast(list[dict], out)  # every slot is set: simple and ~simple cover all geoms


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
