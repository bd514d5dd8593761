"""Demand from a table of population by admin unit (:func:`from_admin_table`).

CSV/XLSX with a code column (county 6-digit, township 9- or 12-digit; headers
代码/区划代码/code …) and a population column (人口/常住人口/population …, a ``(万人)`` unit
multiplies by 10,000). Each unit's population is spread over its cells in proportion to cell
area (cells belong to a unit by ``county_code`` / ``township_code``; prefecture and province
rows by their counties). Rows that are subtotals of other rows (a county row next to its
townships, a 合计 row with a code) are dropped; a township with no cell of its own (no
position, or none nearest) is spread over its county's cells. A county/prefecture/province
only partly inside the region (a province row over a prefecture's cells, a county cut by a
drawn polygon) places only its share of the population by outline area (warned); townships
have no outlines, so a township with cells in the region places all of its population.
Unknown codes and units outside the region are warnings; none matching, duplicate codes with
different values, and a non-numeric or negative population (naming the row) are errors.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from geo.demand.base import (
    Demand,
    _area_km2,
    _cell_weights,
    _cells_region,
    _demand_frame,
    _examples,
    _gaz,
)
from geo.demand.cells import assign_admin
from geo.errors import ValidationError
from geo.gazetteer import Division, Gazetteer
from geo.regions import clean_code, region_polygon
from geo.tables import ColumnMatch, HeaderMatcher, read_frame, split_header

#: Headers of an admin table: the unit's code and its population (earlier aliases preferred;
#: a header containing an alias of four or more characters matches last, e.g. 2020年常住人口).
TABLE_HEADERS: dict[str, tuple[str, ...]] = {
    "code": (
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
    ),
    "population": (
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
    ),
}
_MATCHER = HeaderMatcher(TABLE_HEADERS, partial=True)


def _column(match: ColumnMatch, name: str, explicit: str | None) -> tuple[str, list[str]]:
    """(column of field ``name``, the other columns that could have been it)."""
    if explicit is not None:
        if explicit not in match.headers:
            raise ValidationError(
                f"no column {explicit!r}; columns are {', '.join(match.headers)}", field=name
            )
        return explicit, []
    i = match.preferred(name)
    if i is None:
        raise ValidationError(
            f"no {name} column; columns are {', '.join(match.headers)}; accepted: "
            f"{', '.join(TABLE_HEADERS[name])}",
            field=name,
        )
    return match.headers[i], [match.headers[j] for j in match.duplicates.get(name, []) if j != i]


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
    table = read_frame(path, sheet)
    name = table.attrs["name"]
    columns = [str(c) for c in table.columns]
    table.columns = columns
    match = _MATCHER.match_columns(columns)
    code_col, _ = _column(match, "code", code_column)
    pop_col, other_pop = _column(match, "population", population_column)
    scale = 1e4 if "万" in split_header(pop_col)[1] else 1.0
    warnings: list[str] = []
    if other_pop:
        warnings.append(f"population read from column {pop_col!r}; also found {other_pop}")
    codes = table[code_col].map(clean_code)
    raw_pop = table[pop_col].astype(str).str.strip()
    rownum = table.index.to_numpy()
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
