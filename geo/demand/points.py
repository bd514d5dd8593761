"""Demand at points: weighted points from a file (:func:`from_points`) and admin seats
(:func:`from_admin_seats`). Each point is its own demand cell (a Point geometry).

* :func:`from_points` — weighted points (CSV with lon/lat[/weight] columns, or GeoJSON
  points with a ``weight``/``人数``/``population`` property); codes by reverse geocoding;
  points outside the region are dropped and counted. Coordinates may be declared GCJ-02 or
  BD-09 (``crs=``).
* :func:`from_admin_seats` — one unit per township (or county) of the region ("share of
  townships whose seat is within an hour"). Positions come, in this order, from a
  planner's township table (:func:`read_township_table`: code or name, lon/lat and/or
  population), the bundled gazetteer (approximate bounding-box centres), and the median of
  the registry's own stations carrying the township's code (``registry_stations``). A unit
  still without a position is **kept** in ``Demand.unplaced`` as unknown (位置未知), never
  skipped and never put at the county seat (stacking it there would count it covered
  whenever the seat is, overstating coverage).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.demand.base import (
    UNKNOWN_POSITION,
    UNPLACED_COLUMNS,
    Demand,
    _demand_frame,
    _examples,
    _gaz,
)
from geo.demand.cells import assign_admin
from geo.errors import ValidationError
from geo.gazetteer import Division, Gazetteer, normalise_address
from geo.regions import NATIONAL, NATIONAL_CODE, as_region_geometry, outline_code, region_polygon
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

if TYPE_CHECKING:
    from geo.models import Station

#: ``position_source`` of a position from the planner's township table.
TABLE_POSITION = "township_table"
#: ``position_source`` of a position from the median of the registry's stations.
STATIONS_POSITION = "registry_stations"


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


@dataclass
class TownshipTable:
    """A planner's township table, resolved against the gazetteer.

    Attributes
    ----------
    name
        The file name (for messages).
    positions
        Township code → (lon, lat) in WGS-84, for rows with coordinates.
    population
        Township code → population, for rows with a population (``None`` if the table has
        no population column).
    problems
        One message per row that could not be used, naming its line.
    rows
        Rows read (blank rows not counted).
    """

    name: str
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    population: dict[str, float] | None = None
    problems: list[str] = field(default_factory=list)
    rows: int = 0


#: Headers of a township table: code or name, lon/lat and/or population.
TOWNSHIP_HEADERS: dict[str, tuple[str, ...]] = {
    "code": (
        "乡镇代码",
        "区划代码",
        "行政区划代码",
        "统计用区划代码",
        "代码",
        "编码",
        "code",
        "adcode",
        "township_code",
    ),
    "name": ("乡镇", "乡镇名称", "乡镇街道", "乡镇(街道)", "街道", "名称", "name", "township"),
    "lon": POINT_HEADERS["lon"],
    "lat": POINT_HEADERS["lat"],
    "population": (
        "常住人口",
        "人口",
        "总人口",
        "人口数",
        "户籍人口",
        "职工人数",
        "人数",
        "population",
        "pop",
        "weight",
        "权重",
    ),
}
_TOWNSHIP_MATCHER = HeaderMatcher(TOWNSHIP_HEADERS)


def _number(text: str) -> float:
    """A number from table text (thousands separators allowed), NaN if it is none."""
    try:
        return float(re.sub(r"[,，\s_]", "", text))
    except ValueError:
        return math.nan


def read_township_table(
    path: str | Path | pd.DataFrame,
    region: str,
    *,
    crs: str = "wgs84",
    gazetteer: Gazetteer | None = None,
) -> TownshipTable:
    """Read a township table (CSV/XLSX/GeoJSON) of positions and/or populations.

    Each row names a township of ``region`` by code (9 or 12 digits) or by name (a name must
    resolve to exactly one township of the region) and gives ``lon``/``lat`` (in ``crs``)
    and/or a population. Rows that do not resolve, that name a township outside the
    region, give bad coordinates, a position outside the region's outline, or a bad
    population are reported in ``problems`` with their line number and not used.

    Raises
    ------
    ValidationError
        No code or name column, neither coordinates nor a population column, or no usable
        row at all.
    """
    from geo.crs import to_wgs84

    gaz = _gaz(gazetteer)
    region_code = outline_code(region)
    top = gaz.by_code.get(region_code)
    if top is None:
        raise ValidationError(f"unknown admin code {region_code}", field="township_table")
    frame = read_frame(path, geometry="inside")
    label = frame.attrs["name"]
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    match = _TOWNSHIP_MATCHER.match_columns(columns)

    def pick(name: str) -> str | None:
        i = match.preferred(name)
        return None if i is None else columns[i]

    code_col, name_col = pick("code"), pick("name")
    lon_col, lat_col, pop_col = pick("lon"), pick("lat"), pick("population")
    if code_col is None and name_col is None:
        raise ValidationError(
            f"{label}: needs a township code or name column ({', '.join(TOWNSHIP_HEADERS['code'])}"
            f" / {', '.join(TOWNSHIP_HEADERS['name'])}); columns are {', '.join(columns)}",
            field="township_table",
        )
    if (lon_col is None or lat_col is None) and pop_col is None:
        raise ValidationError(
            f"{label}: needs longitude/latitude or population columns; columns are "
            f"{', '.join(columns)}",
            field="township_table",
        )
    inside_region = region_polygon(region_code, gaz)
    townships = {
        d.code: d
        for d in gaz.units
        if d.level == "township" and (d.code == region_code or d.ancestor(top.level) == region_code)
    }
    by_name: dict[str, list[Division]] = {}
    for d in townships.values():
        by_name.setdefault(normalise_address(d.name), []).append(d)
    for name in list(gaz.names):
        for d, _, _ in gaz.names[name]:
            if d.code in townships and d not in by_name.get(name, []):
                by_name.setdefault(name, []).append(d)
    out = TownshipTable(label, population={} if pop_col is not None else None)
    what = "feature" if frame.attrs["header_line"] == 0 else "line"
    for line, row in frame.iterrows():
        cells = [str(row[c]).strip() for c in columns]
        if not any(cells):
            continue
        out.rows += 1
        where = f"{label} {what} {line}"
        unit: Division | None = None
        code_text = str(row[code_col]).strip() if code_col else ""
        name_text = str(row[name_col]).strip() if name_col else ""
        if code_text:
            code = code_text.replace("'", "").removesuffix(".0")
            if len(code) == 9 and code.isdigit():
                code += "000"
            unit = townships.get(code)
            if unit is None:
                known = gaz.by_code.get(code)
                why = (
                    f"{known.name} is not a township of {region_code} {top.name}"
                    if known is not None
                    else "is not a township code of the gazetteer"
                )
                out.problems.append(f"{where}: code {code_text!r}: {why}")
                continue
        else:
            found = by_name.get(normalise_address(name_text), [])
            if not name_text:
                out.problems.append(f"{where}: no township code or name")
                continue
            if not found:
                out.problems.append(
                    f"{where}: {name_text!r} names no township of {region_code} {top.name}"
                )
                continue
            if len(found) > 1:
                listed = "; ".join(f"{d.code} {d.name}" for d in found[:5])
                out.problems.append(
                    f"{where}: {name_text!r} names {len(found)} townships of {region_code} "
                    f"{top.name} ({listed}); give the code"
                )
                continue
            unit = found[0]
        used = False
        if lon_col is not None and lat_col is not None:
            lon_text, lat_text = str(row[lon_col]).strip(), str(row[lat_col]).strip()
            if lon_text or lat_text:
                x, y = _number(lon_text), _number(lat_text)
                if not (np.isfinite(x) and np.isfinite(y) and abs(x) <= 180 and abs(y) <= 90):
                    out.problems.append(f"{where}: bad coordinates ({lon_text!r}, {lat_text!r})")
                    continue
                wx, wy = to_wgs84(x, y, crs)
                x, y = float(np.atleast_1d(wx)[0]), float(np.atleast_1d(wy)[0])
                if not shapely.intersects_xy(inside_region, x, y):
                    out.problems.append(
                        f"{where}: {unit.code} {unit.name} at ({x:.5f}, {y:.5f}) lies outside "
                        f"{region_code} {top.name}"
                    )
                    continue
                out.positions[unit.code] = (x, y)
                used = True
        if pop_col is not None and out.population is not None:
            pop_text = str(row[pop_col]).strip()
            if pop_text:
                value = _number(pop_text)
                if not (np.isfinite(value) and value >= 0):
                    out.problems.append(
                        f"{where}: population {pop_text!r} is not a non-negative number"
                    )
                    out.positions.pop(unit.code, None)
                    continue
                out.population[unit.code] = value
                used = True
        if not used:
            out.problems.append(f"{where}: {unit.code} {unit.name}: no position and no population")
    if not out.positions and not out.population:
        detail = "; ".join(out.problems[:5])
        raise ValidationError(
            f"{label}: no usable township row" + (f" ({detail})" if detail else ""),
            field="township_table",
        )
    return out


def _station_positions(
    stations: Sequence[Station], codes: set[str]
) -> dict[str, tuple[float, float, int]]:
    """Township code → (median lon, median lat, stations) of the stations carrying it."""
    found: dict[str, list[tuple[float, float]]] = {}
    for s in stations:
        code = (s.township_code or "").strip()
        if len(code) == 9:
            code += "000"
        if code in codes and s.lon is not None and s.lat is not None:
            found.setdefault(code, []).append((float(s.lon), float(s.lat)))
    return {
        code: (
            float(np.median([p[0] for p in pts])),
            float(np.median([p[1] for p in pts])),
            len(pts),
        )
        for code, pts in found.items()
    }


def from_admin_seats(
    code: str,
    level: str = "township",
    *,
    gazetteer: Gazetteer | None = None,
    stations: Sequence[Station] | None = None,
    township_table: TownshipTable | None = None,
) -> Demand:
    """One unit of demand per township (or county) of a region; none is dropped.

    Parameters
    ----------
    code
        The region (6-digit code with an outline).
    level
        ``township`` or ``county``.
    stations
        The registry: a township the gazetteer cannot place is placed at the median of the
        stations carrying its township code, if they lie in its county
        (``position_source`` ``registry_stations``).
    township_table
        A planner's table (:func:`read_township_table`): its positions win over every other
        source (``township_table``); its populations weight the units (the unit becomes
        ``population``; a township missing from it counts 0, warned).

    Units still without a position are kept in ``Demand.unplaced`` (``position_source``
    ``unknown``), neither covered nor uncovered. ``county_code`` comes from the unit's code,
    not from its (approximate) position.

    Raises
    ------
    ValidationError
        An unknown region, a level other than township/county, no unit, or no unit placed.
    """
    gaz = _gaz(gazetteer)
    if level not in ("township", "county"):
        raise ValidationError("level must be 'township' or 'county'", field="level")
    region_code = outline_code(code)
    top = NATIONAL if region_code == NATIONAL_CODE else gaz.by_code.get(region_code)
    if top is None:
        raise ValidationError(f"unknown admin code {region_code}", field="code")
    countyless = set(gaz.counties.loc[gaz.counties["level"] == "prefecture", "code"])
    units = []
    for d in gaz.units:
        if level == "township":
            ok = d.level == "township"
        else:
            ok = d.level == "county" or (d.level == "prefecture" and d.code in countyless)
        if ok and (
            top is NATIONAL or d.code == region_code or d.ancestor(top.level) == region_code
        ):
            units.append(d)
    if not units:
        raise ValidationError(f"{region_code} {top.name} has no {level} units", field="code")
    warnings: list[str] = []
    # Positions: the planner's table, the gazetteer, the registry's stations (in that order).
    where: dict[str, tuple[float, float, str]] = {}
    table = township_table if level == "township" else None
    for d in units:
        if table is not None and d.code in table.positions:
            x, y = table.positions[d.code]
            where[d.code] = (x, y, TABLE_POSITION)
        elif d.lon is not None and d.lat is not None:
            where[d.code] = (d.lon, d.lat, d.position_source or "gazetteer")
    county_of = {d.code: d.county_code or d.prefecture_code or d.code for d in units}
    if stations and level == "township":
        missing = {d.code for d in units if d.code not in where}
        medians = _station_positions(stations, missing)
        if medians:
            mcodes = sorted(medians)
            mx = np.array([medians[c][0] for c in mcodes])
            my = np.array([medians[c][1] for c in mcodes])
            found = gaz.county_codes_at(mx, my)
            outside = []
            for c, x, y, county in zip(mcodes, mx, my, found, strict=True):
                if county == county_of[c]:
                    where[c] = (float(x), float(y), STATIONS_POSITION)
                else:
                    outside.append(c)
            if outside:
                warnings.append(
                    f"{len(outside)} {level}s not placed at their registry stations, whose "
                    f"median lies outside the county: {_examples(outside, len(outside))}"
                )
    placed = [d for d in units if d.code in where]
    unplaced = [d for d in units if d.code not in where]
    if not placed:
        raise ValidationError(
            f"no {level} of {region_code} {top.name} has a position; give a township table "
            "with their positions",
            field="code",
        )
    unit_name = "units"
    weight = {d.code: 1.0 for d in units}
    if table is not None and table.population is not None:
        unit_name = "population"
        weight = {d.code: float(table.population.get(d.code, 0.0)) for d in units}
        absent = [d for d in units if d.code not in table.population]
        if absent:
            warnings.append(
                f"{len(absent)} of {len(units)} {level}s have no population in {table.name} "
                f"and count 0: {_examples((f'{d.code} {d.name}' for d in absent), len(absent))}"
            )
    if table is not None and table.problems:
        warnings.append(
            f"{len(table.problems)} rows of {table.name} were not used: "
            + "; ".join(table.problems[:10])
            + ("; …" if len(table.problems) > 10 else "")
        )
    if unplaced:
        warnings.append(
            f"{len(unplaced)} of {len(units)} {level}s have no position (位置未知): kept as "
            f"unknown, neither covered nor uncovered; shares are over the {len(placed)} "
            f"placed: {_examples((f'{d.code} {d.name}' for d in unplaced), len(unplaced))}"
        )
    lon = np.array([where[d.code][0] for d in placed], dtype=float)
    lat = np.array([where[d.code][1] for d in placed], dtype=float)
    county = np.array([county_of[d.code] for d in placed], dtype=object)
    found = gaz.county_codes_at(lon, lat)
    elsewhere = int((found != county).sum())
    if elsewhere:
        warnings.append(
            f"{elsewhere} {level} positions lie outside their county's outline (positions are "
            "approximate)"
        )
    sources = [where[d.code][2] for d in placed]
    cells = gpd.GeoDataFrame(
        {
            "cell_id": [d.code for d in placed],
            "lon": lon,
            "lat": lat,
            "county_code": county,
            "township_code": [d.code if level == "township" else "" for d in placed],
            "name": [d.name for d in placed],
            "position_source": sources,
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
    cells.attrs["cells"] = f"{level} seats"
    missing_frame = pd.DataFrame(
        {
            "cell_id": [d.code for d in unplaced],
            "name": [d.name for d in unplaced],
            "demand": np.array([weight[d.code] for d in unplaced], dtype=float),
            "county_code": [county_of[d.code] for d in unplaced],
            "township_code": [d.code if level == "township" else "" for d in unplaced],
            "position_source": UNKNOWN_POSITION,
        },
        columns=list(UNPLACED_COLUMNS),
    )
    counts = pd.Series(sources).value_counts()
    kinds = ", ".join(f"{k} {v}" for k, v in counts.items())
    source = (
        f"{level} seats of {region_code} {top.name}: 1 "
        + (
            "unit"
            if unit_name == "units"
            else f"unit weighted by the population of {table and table.name}"
        )
        + f" per {level}; {len(placed)} of {len(units)} placed ({kinds}"
        + (", approximate" if level == "township" else "")
        + f"), {len(unplaced)} position unknown"
    )
    stats = {
        "units": len(units),
        "placed": len(placed),
        "unplaced": len(unplaced),
        "position_sources": {str(k): int(v) for k, v in counts.items()},
    }
    demand = np.array([weight[d.code] for d in placed], dtype=float)
    return Demand(_demand_frame(cells, demand), unit_name, source, warnings, stats, missing_frame)
