"""Private table and point readers of the demand builders, and their header matcher.

To be replaced by geo.tables at integration. Everything here reads a user's file into
text columns and finds columns by header; the one project-wide reader (``geo.tables``)
takes over this job when the branches meet, and this module goes away in that one step
(:mod:`geo.demand.table` and :mod:`geo.demand.points` import only from here).
Nothing here is public.

Headers are matched after normalising (NFKC, lower case, bracketed units removed, spaces
and dashes as ``_``); a ``(万人)`` unit in a header multiplies its values by 10,000.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pandas as pd
import shapely

from geo.errors import FileFormatError, ValidationError

# to be replaced by geo.tables at integration: header lists, matcher, table and point readers

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
