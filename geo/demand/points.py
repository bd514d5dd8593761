"""Demand at points: weighted points from a file (:func:`from_points`) and admin seats
(:func:`from_admin_seats`). Each point is its own demand cell (a Point geometry).

* :func:`from_points` — weighted points (CSV with lon/lat[/weight] columns, or GeoJSON
  points with a ``weight``/``人数``/``population`` property); codes by reverse geocoding;
  points outside the region are dropped and counted. Coordinates may be declared GCJ-02 or
  BD-09 (``crs=``).
* :func:`from_admin_seats` — one unit per township (or county) of the region that has a
  position ("share of townships whose seat is within an hour"). Townships without a
  position are **skipped** and counted in a warning, not put at the county seat: stacking
  them there would count them covered whenever the seat is, overstating coverage.
  Township positions are approximate (bounding-box centres).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.demand.base import Demand, _demand_frame, _examples, _gaz
from geo.demand.cells import assign_admin
from geo.errors import ValidationError
from geo.gazetteer import Gazetteer
from geo.regions import as_region_geometry, outline_code
from geo.tables import HeaderMatcher, read_frame

#: Headers of a points file; a people column makes the unit "population", a weight column
#: "weight", neither "units" (each point counts 1).
POINT_HEADERS: dict[str, tuple[str, ...]] = {
    "lon": ("lon", "lng", "long", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
    "people": (
        "人数",
        "职工人数",
        "职工数",
        "从业人员",
        "人口",
        "population",
        "workers",
        "employees",
    ),
    "weight": ("weight", "权重"),
    "name": ("name", "名称", "单位名称", "企业名称", "地点"),
}
_MATCHER = HeaderMatcher(POINT_HEADERS)


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
    frame = read_frame(path, geometry="inside")
    label = frame.attrs["name"]
    warnings: list[str] = []
    if frame.attrs["polygons"]:
        n = frame.attrs["polygons"]
        warnings.append(f"{n} polygon features were replaced by a point inside them")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    match = _MATCHER.match_columns(columns)

    def pick(name: str) -> str | None:
        i = match.preferred(name)
        return None if i is None else columns[i]

    twice = {f: p for f, p in match.duplicates.items() if f in ("lon", "lat")}
    if twice:
        listed = "; ".join(f"{f}: {', '.join(columns[i] for i in p)}" for f, p in twice.items())
        raise ValidationError(
            f"{label}: more than one coordinate column ({listed}); keep one of each",
            field=next(iter(twice)),
        )
    lon_col, lat_col = pick("lon"), pick("lat")
    if lon_col is None or lat_col is None:
        raise ValidationError(
            f"{label}: needs longitude and latitude columns "
            f"({', '.join(POINT_HEADERS['lon'])} / {', '.join(POINT_HEADERS['lat'])}); "
            f"columns are {', '.join(columns)}",
            field="lon",
        )
    people_col = pick("people")
    weight_col = people_col or pick("weight")
    unit = "population" if people_col else ("weight" if weight_col else "units")
    name_col = pick("name")
    what = "feature" if frame.attrs["header_line"] == 0 else "row"
    blank = (frame[lon_col].str.strip() == "") & (frame[lat_col].str.strip() == "")
    if weight_col is not None:
        blank &= frame[weight_col].str.strip() == ""
    frame = frame[~blank.to_numpy()]
    numbers = frame.index.to_numpy()
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
    wgs_lon, wgs_lat = to_wgs84(lon, lat, crs)
    lon, lat = np.atleast_1d(wgs_lon), np.atleast_1d(wgs_lat)
    names = frame[name_col].to_numpy(dtype=object) if name_col else np.full(len(frame), "")
    if region is not None:
        region_geom = as_region_geometry(region, gazetteer)
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
    region_code = outline_code(code)
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
