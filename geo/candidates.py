"""Candidate sites for new stations: from a file, or generated where the gaps are.

Candidates are often existing places (Baise put service points into village shops and rural
bank points): post offices, bank points, township seats, vacant union premises. A candidate
frame has ``id, name, lon, lat, cost, yearly_cost, source`` (WGS-84; costs in yuan, ``cost``
one-off, ``yearly_cost`` per year; missing costs are NaN and refused by budget planning).
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np

from geo.crs import CoordSystem, to_wgs84
from geo.errors import FileFormatError, ValidationError
from geo.records.validate import CHINA_BOUNDS
from geo.tables import HeaderMatcher, header_finder, read_frame, strip_control

COLUMNS = ["id", "name", "lon", "lat", "cost", "yearly_cost", "source"]

_HEADERS = {
    "id": ("id", "编号", "站点编号"),
    "name": ("name", "名称", "地点", "站点名称"),
    "lon": ("lon", "lng", "longitude", "经度", "x"),
    "lat": ("lat", "latitude", "纬度", "y"),
    "cost": ("cost", "建设费用", "一次性费用", "费用", "造价"),
    "yearly_cost": ("yearly_cost", "年费用", "运营费用", "年运营费"),
    "monthly_cost": ("monthly_cost", "月费用", "每月费用"),
    "crs": ("crs", "坐标系"),
}
_MATCHER = HeaderMatcher(_HEADERS)


def _frame(ids, names, lon, lat, cost, yearly, source) -> gpd.GeoDataFrame:
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return gpd.GeoDataFrame(
        {
            "id": list(ids),
            "name": list(names),
            "lon": lon,
            "lat": lat,
            "cost": np.asarray(cost, dtype=float),
            "yearly_cost": np.asarray(yearly, dtype=float),
            "source": source,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )


def from_file(path: str | Path, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """Candidates from a CSV/XLSX (lon/lat columns) or GeoJSON/GeoPackage (points) file.

    The file is read by :func:`geo.tables.read_frame` (a title row above the header is
    skipped; messages name the file's own line numbers).

    Cost columns are optional: ``cost`` (one-off), ``yearly_cost``, or ``monthly_cost``
    (× 12). A negative or non-numeric cost is refused with the row named. Other columns
    (e.g. a capacity) are kept as they are.

    Coordinates must be finite numbers within China's extent
    (:data:`geo.records.CHINA_BOUNDS`, after conversion to WGS-84); two columns naming the same
    field (``lon`` and ``经度``) are refused. Control characters (NUL, ESC …) in ids and names
    are removed; ``frame.attrs["warnings"]`` names each row where that happened.
    """
    path = Path(path)
    df = read_frame(
        path,
        text=False,
        find_header=header_finder(_MATCHER, ("lon", "lat")),
        header_hint="with longitude and latitude columns (lon/lat, 经度/纬度)",
    )
    match = _MATCHER.match_columns(list(df.columns), required=("lon", "lat"))
    match.check(path.name, df.attrs.get("header_line") or None)
    if match.missing:
        raise FileFormatError(
            f"{path.name}: needs longitude and latitude columns (lon/lat, 经度/纬度)"
        )
    columns = {f: df.iloc[:, i] for f, i in match.mapping.items()}
    lines = df.index.tolist()
    n = len(df)
    if n == 0:
        raise ValidationError(f"{path.name}: no candidate sites", field="candidates")

    def numbers(field: str, allow_missing: bool) -> np.ndarray:
        if field not in columns:
            return np.full(n, np.nan)
        out = np.full(n, np.nan)
        for i, value in enumerate(columns[field].tolist()):
            if (
                value is None
                or (isinstance(value, float) and math.isnan(value))
                or str(value).strip() == ""
            ):
                if not allow_missing:
                    raise ValidationError(
                        f"{path.name}: line {lines[i]}: {field} is missing", field=field
                    )
                continue
            try:
                out[i] = float(str(value).replace(",", ""))
            except (ValueError, OverflowError):
                raise ValidationError(
                    f"{path.name}: line {lines[i]}: {field} is not a number: {value!r}",
                    field=field,
                ) from None
            if not math.isfinite(out[i]):
                raise ValidationError(
                    f"{path.name}: line {lines[i]}: {field} is not a finite number: {value!r}",
                    field=field,
                )
            if field not in ("lon", "lat") and out[i] < 0:
                raise ValidationError(
                    f"{path.name}: line {lines[i]}: {field} is negative", field=field
                )
        return out

    lon, lat = numbers("lon", False), numbers("lat", False)
    for i in range(n):
        if not (-180 <= lon[i] <= 180):
            raise ValidationError(
                f"{path.name}: line {lines[i]}: longitude {lon[i]:g} is out of range -180..180",
                field="lon",
            )
        if not (-90 <= lat[i] <= 90):
            raise ValidationError(
                f"{path.name}: line {lines[i]}: latitude {lat[i]:g} is out of range -90..90",
                field="lat",
            )
    systems = columns["crs"].fillna(crs).astype(str).tolist() if "crs" in columns else [crs] * n
    for system in set(systems):
        mask = np.array([s == system for s in systems])
        lon[mask], lat[mask] = to_wgs84(lon[mask], lat[mask], CoordSystem.parse(system))
    x0, y0, x1, y1 = CHINA_BOUNDS
    for i in range(n):
        if not (x0 <= lon[i] <= x1 and y0 <= lat[i] <= y1):
            raise ValidationError(
                f"{path.name}: line {lines[i]}: ({lon[i]:.5f}, {lat[i]:.5f}) is outside China "
                f"(longitude {x0}..{x1}, latitude {y0}..{y1}); check the coordinates and "
                "their order",
                field="lon",
            )
    yearly = numbers("yearly_cost", True)
    monthly = numbers("monthly_cost", True)
    yearly = np.where(np.isnan(yearly), monthly * 12, yearly)
    warnings: list[str] = []

    def texts(field: str) -> list[str]:
        out = []
        for line, value in zip(lines, columns[field].fillna("").astype(str).tolist(), strict=True):
            clean, removed = strip_control(value)
            if removed:
                warnings.append(f"line {line}: control characters removed from {field}")
            out.append(clean)
        return out

    ids = texts("id") if "id" in columns else [f"C{i + 1}" for i in range(n)]
    if len(set(ids)) != len(ids):
        raise ValidationError(f"{path.name}: candidate ids are not unique", field="id")
    names = texts("name") if "name" in columns else ids
    frame = _frame(ids, names, lon, lat, numbers("cost", True), yearly, f"file {path.name}")
    mapped = set(match.mapping.values())
    for i, col in enumerate(df.columns):  # other columns (capacity, notes …) travel along
        name = str(col).strip()
        if i not in mapped and name and name not in frame.columns:
            frame[name] = df.iloc[:, i].to_numpy()
    frame.attrs["warnings"] = warnings
    return frame


def township_positions(
    region: str, cost: float = math.nan, yearly_cost: float = math.nan
) -> gpd.GeoDataFrame:
    """One candidate per township of the region with an (approximate) position."""
    from geo.demand import from_admin_seats

    seats = from_admin_seats(region, level="township").cells
    n = len(seats)
    return _frame(
        seats["cell_id"],
        seats.get("name", seats["cell_id"]),
        seats["lon"],
        seats["lat"],
        np.full(n, cost),
        np.full(n, yearly_cost),
        "township positions (approximate)",
    )


def uncovered_cells(
    result,
    threshold: float | None = None,
    cost: float = math.nan,
    yearly_cost: float = math.nan,
    limit: int = 5000,
) -> gpd.GeoDataFrame:
    """The centres of uncovered demand cells of a coverage result, most demand first."""
    uncovered = ~result.covered(threshold)
    cells = result.cells.loc[uncovered & (result.cells["demand"] > 0).to_numpy()]
    cells = cells.sort_values("demand", ascending=False).head(limit)
    n = len(cells)
    if n == 0:
        raise ValidationError(
            "every demand cell is covered: no gap to place candidates in", field="candidates"
        )
    return _frame(
        [f"cell-{c}" for c in cells["cell_id"]],
        [f"空白点 {c}" for c in cells["cell_id"]],
        cells["lon"],
        cells["lat"],
        np.full(n, cost),
        np.full(n, yearly_cost),
        "centres of uncovered cells",
    )


def grid_in_gaps(
    result,
    spacing_m: float,
    threshold: float | None = None,
    cost: float = math.nan,
    yearly_cost: float = math.nan,
) -> gpd.GeoDataFrame:
    """A regular grid of candidates (``spacing_m`` apart) inside the gap polygons."""
    if not spacing_m > 0:
        raise ValidationError("spacing_m must be > 0", field="spacing_m")
    gaps = result.gaps(threshold)
    polys = gaps.loc[gaps.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        raise ValidationError("no gap polygons to place a grid in", field="candidates")
    projected = polys.to_crs(polys.estimate_utm_crs())
    x0, y0, x1, y1 = projected.total_bounds
    xs, ys = np.meshgrid(
        np.arange(x0 + spacing_m / 2, x1, spacing_m), np.arange(y0 + spacing_m / 2, y1, spacing_m)
    )
    pts = gpd.GeoSeries(gpd.points_from_xy(xs.ravel(), ys.ravel()), crs=projected.crs)
    # geopandas-stubs type a GeoSeries filtered by a mask as a plain Series (no to_crs).
    inside = pts[pts.within(projected.union_all())].to_crs(4326)  # type: ignore[operator]
    n = len(inside)
    if n == 0:
        raise ValidationError(
            f"no grid point {spacing_m:g} m apart falls inside the gaps; use a smaller spacing",
            field="spacing_m",
        )
    return _frame(
        [f"grid-{i + 1}" for i in range(n)],
        [f"网格点 {i + 1}" for i in range(n)],
        inside.x,
        inside.y,
        np.full(n, cost),
        np.full(n, yearly_cost),
        f"grid in the gaps, {spacing_m:g} m",
    )
