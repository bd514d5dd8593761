"""Station registries in and out: read, validate, normalise, import, export.

Registries come as unions keep them: CSV (UTF-8, UTF-8 with BOM or GB18030), Excel sheets with
Chinese headers (名称, 类型, 地址, 经度, 纬度, 坐标系 …, English aliases accepted, a title row
above the header tolerated), GeoJSON, or any OGR vector layer (GeoPackage, Shapefile).

Validation gives a row-level :class:`ImportReport`. Rules (each rejected row names its line,
the field and the reason):

* ``name`` and ``kind`` are required; an unknown kind is rejected with the closest known one
  suggested.
* Coordinates must be numbers within range. A pair whose longitude looks like a Chinese
  latitude and whose latitude looks like a Chinese longitude is taken as swapped: it is fixed
  and a warning is reported (``fix_swapped=False`` rejects it instead).
* Coordinates are converted from their declared system (``坐标系`` column per row, else the
  file's ``crs``) to WGS-84; the original is kept for audit. A point outside China (the
  outline of :func:`geo.crs.in_china`) is rejected.
* Text is normalised: full-width digits and letters to ASCII (NFKC), stray spaces collapsed.
* Duplicates: the same id twice, or the same name within ``duplicate_radius_m`` (50 m) of a
  row earlier in the file or of a stored station with another id, are rejected.
* Unknown services, unreadable opening hours, malformed admin codes and unknown columns are
  warnings: the row is kept (unknown columns are kept in ``extra``).

Rows without an id get a stable one derived from name, kind and place, so re-importing the
same file updates rather than duplicates. An import is one transaction: default mode commits
the valid rows and reports the rest; ``strict=True`` commits nothing if any row is rejected.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from geo import crs as _crs
from geo.crs import CoordSystem
from geo.errors import FileFormatError, ImportRefused, ValidationError
from geo.hours import CHINA_TZ, OpeningHours
from geo.models import (
    KINDS,
    SERVICES,
    STATUS_TERMS,
    Precision,
    Station,
    parse_kind,
    parse_service,
    parse_status,
)

LOGGER = logging.getLogger(__name__)

#: China's extent in WGS-84 degrees: a cheap test for "looks like a Chinese lon/lat" when
#: detecting swapped coordinates. The "outside China" check itself is :func:`geo.crs.in_china`.
CHINA_BOUNDS = (73.4, 3.8, 135.1, 53.6)

#: Canonical field → accepted header spellings (compared after NFKC, lower-case, no spaces).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("编号", "站点编号", "驿站编号", "id", "station_id", "code"),
    "name": ("名称", "站点名称", "驿站名称", "服务站名称", "名字", "name", "name_zh"),
    "name_en": ("英文名称", "name_en", "english_name"),
    "kind": ("类型", "站点类型", "类别", "kind", "type", "category"),
    "services": ("服务项目", "服务内容", "服务功能", "services", "service"),
    "address": ("地址", "详细地址", "站点地址", "address"),
    "province": ("省", "省份", "province"),
    "province_code": ("省代码", "省级代码", "province_code"),
    "prefecture": ("市", "地市", "城市", "所属城市", "prefecture", "city"),
    "prefecture_code": ("市代码", "地市代码", "prefecture_code", "city_code"),
    "county": ("县区", "区县", "县", "县(市、区)", "county", "district"),
    "county_code": ("县区代码", "区县代码", "区划代码", "行政区划代码", "county_code", "adcode"),
    "township": ("乡镇", "乡镇街道", "乡镇(街道)", "街道", "township"),
    "township_code": ("乡镇代码", "township_code"),
    "village": ("村", "村社区", "村(社区)", "社区", "village"),
    "village_code": ("村代码", "村社区代码", "village_code"),
    "lon": ("经度", "lon", "lng", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "crs": ("坐标系", "坐标系统", "crs", "coord_system", "coordinate_system"),
    "orig_lon": ("原始经度", "orig_lon"),
    "orig_lat": ("原始纬度", "orig_lat"),
    "orig_crs": ("原始坐标系", "orig_crs"),
    "precision": ("定位精度", "precision"),
    "hours": ("开放时间", "服务时间", "营业时间", "hours", "opening_hours"),
    "phone": ("联系电话", "电话", "服务电话", "phone", "tel", "telephone"),
    "union": ("所属工会", "主管工会", "运营单位", "union", "operator"),
    "status": ("状态", "运营状态", "status"),
    "demo": ("演示数据", "demo"),
    "source": ("来源", "数据来源", "source"),
    "notes": ("备注", "说明", "notes", "remark"),
    "updated_at": ("更新时间", "更新日期", "updated_at", "updated"),
    "extra": ("extra",),
}

#: Export column order (English names; ``lang="zh"`` uses each field's first alias).
EXPORT_FIELDS = [
    "id",
    "name",
    "name_en",
    "kind",
    "services",
    "address",
    "province_code",
    "province",
    "prefecture_code",
    "prefecture",
    "county_code",
    "county",
    "township_code",
    "township",
    "village_code",
    "village",
    "lon",
    "lat",
    "crs",
    "orig_lon",
    "orig_lat",
    "orig_crs",
    "precision",
    "hours",
    "phone",
    "union",
    "status",
    "demo",
    "source",
    "notes",
    "updated_at",
    "extra",
]

_CODE_LENGTHS = {
    "province_code": (6,),
    "prefecture_code": (6,),
    "county_code": (6,),
    "township_code": (9, 12),
    "village_code": (12,),
}
_TRUE = {"是", "true", "1", "yes", "y", "t", "演示", "示例"}
_FALSE = {"否", "false", "0", "no", "n", "f", ""}


def _key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


_ALIAS_INDEX = {_key(a): f for f, names in HEADER_ALIASES.items() for a in names}


_SPACES = re.compile(r"\s+")
_SERVICE_SEPARATORS = re.compile(r"[、;；|,，\s]+")
_TEXT_FIELDS = [k for k in HEADER_ALIASES if k != "extra"]


def normalise_text(value: object) -> str:
    """NFKC (full-width → ASCII), trimmed, inner runs of white space collapsed to one."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel gives 12351.0 for a phone number typed as a number
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", str(value))).strip()


def match_header(header: str) -> str | None:
    """The canonical field for a column header, or ``None`` if it is not recognised."""
    key = _key(header)
    if key in _ALIAS_INDEX:
        return _ALIAS_INDEX[key]
    bare = re.sub(r"[(（\[【].*?[)）\]】]", "", key)  # "经度(WGS84)" → "经度"
    return _ALIAS_INDEX.get(bare)


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------
@dataclass
class RowIssue:
    """One problem with one input row. ``line`` is the file line / sheet row / feature number."""

    line: int
    field: str | None
    reason: str
    value: str | None = None
    id: str | None = None
    name: str | None = None


@dataclass
class ImportReport:
    """What an import did: counts, ids, and every rejected row and warning."""

    source: str
    format: str
    rows: int = 0
    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)
    committed: bool = False
    strict: bool = False

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({r.line for r in self.rejected})

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "format": self.format,
            "rows": self.rows,
            "committed": self.committed,
            "strict": self.strict,
            "counts": {
                "imported": len(self.imported),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "rejected_rows": len(self.rejected_lines),
                "warnings": len(self.warnings),
            },
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [dataclasses.asdict(r) for r in self.rejected],
            "warnings": [dataclasses.asdict(w) for w in self.warnings],
        }

    def summary(self) -> str:
        c = self.to_dict()["counts"]
        verb = "committed" if self.committed else "NOT committed"
        return (
            f"{self.source}: {self.rows} rows; {c['imported']} new, {c['updated']} updated, "
            f"{c['unchanged']} unchanged, {c['rejected_rows']} rejected, "
            f"{c['warnings']} warnings ({verb})"
        )


# --------------------------------------------------------------------------------------
# Reading raw rows
# --------------------------------------------------------------------------------------
@dataclass
class RawRow:
    """One input row: its line number and its values keyed by canonical field."""

    line: int
    values: dict[str, object]
    extra: dict[str, str] = field(default_factory=dict)


def detect_format(path: Path, fmt: str | None = None) -> str:
    """``csv``, ``xlsx``, ``geojson`` or ``ogr`` from ``fmt`` or the file's extension."""
    if fmt:
        fmt = fmt.lower()
        if fmt not in {"csv", "xlsx", "geojson", "ogr", "gpkg"}:
            raise FileFormatError(f"unknown format {fmt!r}; use csv, xlsx, geojson or gpkg")
        return "ogr" if fmt == "gpkg" else fmt
    ext = path.suffix.lower()
    if ext in {".csv", ".txt", ".tsv"}:
        return "csv"
    if ext in {".xlsx", ".xlsm"}:
        return "xlsx"
    if ext in {".geojson", ".json"}:
        return "geojson"
    if ext in {".gpkg", ".shp", ".fgb"}:
        return "ogr"
    if ext == ".xls":
        raise FileFormatError(
            f"{path.name}: old .xls files are not supported; "
            "save the sheet as .xlsx (Excel/WPS: 另存为 .xlsx)"
        )
    raise FileFormatError(
        f"{path.name}: cannot tell the format from the extension {ext!r}; "
        "pass --format csv|xlsx|geojson|gpkg"
    )


def _decode(data: bytes, name: str) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FileFormatError(f"{name}: not UTF-8 or GB18030 text")  # pragma: no cover


def _header_rows(
    rows: Iterator[tuple[int, list[object]]], name: str, unknown: list[tuple[int, str]]
) -> Iterator[RawRow]:
    """Find the header (within the first 10 rows), then map each row to canonical fields."""
    columns: list[str | None] | None = None
    headers: list[str] = []
    for line, cells in rows:
        if columns is None:
            texts = [normalise_text(c) for c in cells]
            mapped = [match_header(t) if t else None for t in texts]
            if "name" in mapped:
                dupes = {f for f in mapped if f and mapped.count(f) > 1}
                if dupes:
                    raise FileFormatError(
                        f"{name}: line {line}: columns map to the same "
                        f"field twice: {', '.join(sorted(dupes))}"
                    )
                columns, headers = mapped, texts
                unknown.extend((line, t) for t, m in zip(texts, mapped, strict=True) if t and not m)
            elif line >= 10:
                break
            continue
        if all(normalise_text(c) == "" for c in cells):
            continue  # blank line
        values: dict[str, object] = {}
        extra: dict[str, str] = {}
        for i, cell in enumerate(cells):
            if i >= len(columns):
                break
            if columns[i]:
                values[columns[i]] = cell
            elif headers[i] and normalise_text(cell):
                extra[headers[i]] = normalise_text(cell)
        yield RawRow(line, values, extra)
    if columns is None:
        raise FileFormatError(
            f"{name}: no header row with a name column (名称/name) in the first 10 lines"
        )


def read_raw(
    path: str | Path,
    fmt: str | None = None,
    sheet: str | None = None,
    unknown_columns: list[tuple[int, str]] | None = None,
) -> tuple[str, list[RawRow]]:
    """Read a registry file into raw rows keyed by canonical field.

    Returns
    -------
    The detected format and the rows. Unrecognised headers are appended to
    ``unknown_columns`` as ``(line, header)`` (their values go to each row's ``extra``).

    Raises
    ------
    FileFormatError
        If the file cannot be read as its format, or has no recognisable header.
    """
    path = Path(path)
    unknown = unknown_columns if unknown_columns is not None else []
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    kind = detect_format(path, fmt)
    if kind == "csv":
        text = _decode(path.read_bytes(), path.name)
        sample = text[:4096]
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

        def numbered() -> Iterator[tuple[int, list[object]]]:
            start = 1
            for cells in reader:
                yield start, cells
                start = reader.line_num + 1

        try:
            return kind, list(_header_rows(numbered(), path.name, unknown))
        except csv.Error as exc:
            raise FileFormatError(f"{path.name}: line {reader.line_num}: {exc}") from None
    if kind == "xlsx":
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several unrelated types
            raise FileFormatError(f"{path.name}: not a readable .xlsx file ({exc})") from None
        try:
            if sheet is not None and sheet not in wb.sheetnames:
                raise FileFormatError(
                    f"{path.name}: no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)}"
                )
            ws = wb[sheet] if sheet else wb.worksheets[0]
            rows = ((i, list(r)) for i, r in enumerate(ws.iter_rows(values_only=True), 1))
            return kind, list(_header_rows(rows, path.name, unknown))
        finally:
            wb.close()
    if kind == "geojson":
        try:
            doc = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"{path.name}: not valid GeoJSON ({exc})") from None
        features = doc.get("features") if isinstance(doc, dict) else None
        if not isinstance(features, list):
            raise FileFormatError(f"{path.name}: not a GeoJSON FeatureCollection")
        return kind, list(_features_to_rows(features, path.name, unknown))
    return kind, list(_ogr_rows(path, unknown))


def _features_to_rows(
    features: list, name: str, unknown: list[tuple[int, str]]
) -> Iterator[RawRow]:
    seen_unknown: set[str] = set()
    for n, feat in enumerate(features, 1):
        props = dict((feat or {}).get("properties") or {})
        values: dict[str, object] = {}
        extra: dict[str, str] = {}
        for k, v in props.items():
            f = match_header(k)
            if f:
                values[f] = v
            elif v not in (None, ""):
                extra[k] = normalise_text(v)
                if k not in seen_unknown:
                    seen_unknown.add(k)
                    unknown.append((n, k))
        geom = (feat or {}).get("geometry")
        if geom:
            if geom.get("type") != "Point":
                values["_geometry_error"] = f"geometry is {geom.get('type')}, not a Point"
            else:
                coords = geom.get("coordinates") or []
                if len(coords) >= 2:
                    values["lon"], values["lat"] = coords[0], coords[1]
        id_ = (feat or {}).get("id")
        if id_ not in (None, "") and "id" not in values:
            values["id"] = id_
        yield RawRow(n, values, extra)


def _ogr_rows(path: Path, unknown: list[tuple[int, str]]) -> Iterator[RawRow]:
    import pyogrio

    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise FileFormatError(f"{path.name}: cannot read ({exc})") from None
    if gdf.crs is not None and gdf.crs.to_epsg() not in (4326, 4490):
        gdf = gdf.to_crs(4326)
    features = json.loads(gdf.to_json(drop_id=True))["features"]
    return _features_to_rows(features, path.name, unknown)


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------
def _float(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not normalise_text(value)):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = normalise_text(value).rstrip("°").strip()
    return float(text)  # ValueError for non-numbers


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = normalise_text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


def _datetime(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = (
            normalise_text(value)
            .replace("/", "-")
            .replace("年", "-")
            .replace("月", "-")
            .replace("日", "")
        )
        if not text:
            return None
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CHINA_TZ)  # registries write China time
    return dt.astimezone(UTC)


def stable_id(name: str, kind: str, place: str) -> str:
    """A stable id for a row without one: a hash of name, kind and place."""
    digest = hashlib.sha1(f"{name}|{kind}|{place}".encode()).hexdigest()[:12]
    return f"S-{digest}"


@dataclass
class _Candidate:
    line: int
    station: Station
    in_lon: float | None
    in_lat: float | None
    crs: CoordSystem
    derived_id: bool
    geocoded: bool = False


def validate_rows(
    rows: Iterable[RawRow],
    crs: str | CoordSystem | None = "wgs84",
    fix_swapped: bool = True,
    duplicate_radius_m: float = 50.0,
    existing: Iterable[tuple[str, str, float | None, float | None]] = (),
    report: ImportReport | None = None,
    source: str | None = None,
    geocoder=None,
    gazetteer=None,
) -> tuple[list[Station], ImportReport]:
    """Validate raw rows into stations (WGS-84), recording every problem in the report.

    Parameters
    ----------
    rows
        Rows from :func:`read_raw`.
    crs
        Coordinate system of rows that have no ``坐标系`` value.
    fix_swapped
        Swap latitude/longitude given the wrong way round (with a warning) instead of
        rejecting the row.
    duplicate_radius_m
        Same-name rows closer than this are duplicates.
    existing
        ``(id, name, lon, lat)`` of stored stations, for the duplicate check.
    geocoder
        A :class:`geo.geocode.Geocoder` for rows without coordinates (their address and admin
        names are geocoded); without one such rows are rejected.
    gazetteer
        A :class:`geo.gazetteer.Gazetteer` for reverse geocoding: missing admin codes are
        filled from the coordinates, and a stated county that disagrees with them is warned.
    """
    report = report or ImportReport(source=source or "<rows>", format="rows")
    default_crs = CoordSystem.parse(crs) if crs else CoordSystem.WGS84
    candidates: list[_Candidate] = []
    for row in rows:
        report.rows += 1
        cand = _validate_row(row, default_crs, fix_swapped, report, geocoder is not None)
        if cand is not None:
            candidates.append(cand)
    if geocoder is not None:
        candidates = _geocode_candidates(candidates, geocoder, report)
    if not candidates:
        return [], report

    # Convert every coordinate system group in one vectorised call.
    lon = np.array([c.in_lon for c in candidates])
    lat = np.array([c.in_lat for c in candidates])
    systems = np.array([c.crs.value for c in candidates])
    for system in set(systems.tolist()):
        mask = systems == system
        lon[mask], lat[mask] = _crs.to_wgs84(lon[mask], lat[mask], system)
    inside = np.asarray(_crs.in_china(lon, lat), dtype=bool)

    kept: list[Station] = []
    for cand, x, y, ok in zip(candidates, lon.tolist(), lat.tolist(), inside.tolist(), strict=True):
        s = cand.station
        if not ok:
            report.rejected.append(
                RowIssue(
                    cand.line,
                    "lon",
                    "point is outside China's service area (mainland, Hong Kong, Macau): "
                    f"({x:.5f}, {y:.5f}); check the coordinates and their order",
                    f"{cand.in_lon}, {cand.in_lat}",
                    s.id,
                    s.name,
                )
            )
            continue
        s.lon, s.lat = round(x, 7), round(y, 7)
        if s.orig_lon is None and not cand.geocoded:
            s.orig_lon, s.orig_lat, s.orig_crs = cand.in_lon, cand.in_lat, cand.crs
        kept.append(s)
    lines = {id(c.station): c.line for c in candidates}
    if gazetteer is not None and kept:
        _reverse_fill(kept, lines, gazetteer, report)
    derived = {id(c.station) for c in candidates if c.derived_id}
    return _drop_duplicates(kept, lines, derived, existing, duplicate_radius_m, report), report


def _address_text(s: Station) -> str:
    """The text to geocode for a station: its admin names, then its address."""
    parts = [s.province, s.prefecture, s.county, s.township, s.village]
    admin = "".join(p for p in parts if p)
    address = s.address or ""
    return address if admin and address.startswith(admin[:2]) else admin + address


def _geocode_candidates(
    candidates: list[_Candidate], geocoder, report: ImportReport
) -> list[_Candidate]:
    """Geocode the candidates that have no coordinates; reject those that fail."""
    from geo.errors import GeocodeNotFound, ProviderError

    out = []
    for cand in candidates:
        if cand.in_lon is not None:
            out.append(cand)
            continue
        s = cand.station
        text = _address_text(s)
        try:
            result = geocoder.geocode(text)
        except (GeocodeNotFound, ProviderError) as exc:
            report.rejected.append(
                RowIssue(
                    cand.line,
                    "address",
                    f"no coordinates, and the address could not be geocoded: {exc.message}",
                    text,
                    s.id,
                    s.name,
                )
            )
            continue
        cand.in_lon, cand.in_lat, cand.crs = result.lon, result.lat, CoordSystem.WGS84
        cand.geocoded = True
        s.precision = result.precision
        s.extra = {**s.extra, "geocoded_by": result.provider}
        _fill_admin(s, result.codes, result.names)
        if result.precision.value in ("county", "prefecture"):
            report.warnings.append(
                RowIssue(
                    cand.line,
                    "address",
                    f"geocoded only to the {result.precision.value} "
                    f"({result.formatted}); the position is approximate: please review",
                    text,
                    s.id,
                    s.name,
                )
            )
        out.append(cand)
    return out


def _fill_admin(s: Station, codes: dict[str, str], names: dict[str, str]) -> None:
    """Fill the station's missing admin codes and names (never overwrite given ones)."""
    for level in ("province", "prefecture", "county", "township", "village"):
        code = codes.get(f"{level}_code")
        if code and not getattr(s, f"{level}_code"):
            setattr(s, f"{level}_code", code)
            if not getattr(s, level) and names.get(level):
                setattr(s, level, names[level])


def _reverse_fill(
    kept: list[Station], lines: dict[int, int], gazetteer, report: ImportReport
) -> None:
    """Fill missing admin codes from the coordinates; warn where the stated county disagrees.

    County and above come from the outlines (exact up to their simplification). A missing
    township is filled with the one whose approximate position is nearest within the
    county, and marked ``extra["township_source"] = "nearest"``.
    """
    from geo.review import looks_like_gcj02_declared_wgs84

    lon = np.array([s.lon for s in kept])
    lat = np.array([s.lat for s in kept])
    found = gazetteer.county_codes_at(lon, lat)
    for s, code, x, y in zip(kept, found.tolist(), lon.tolist(), lat.tolist(), strict=True):
        county = gazetteer.get(code) if code else None
        if county is None:
            continue
        if s.county_code and s.county_code != code and s.county_code in gazetteer.by_code:
            stated = gazetteer.get(s.county_code)
            hint = ""
            if looks_like_gcj02_declared_wgs84(s, gazetteer):
                hint = (
                    "; it looks like a GCJ-02 (Amap/Tencent) coordinate declared as "
                    "WGS-84: set 坐标系 to gcj02"
                )
            report.warnings.append(
                RowIssue(
                    lines[id(s)],
                    "county_code",
                    f"the coordinates fall in {county.name} "
                    f"({code}), not in the stated {stated.name} ({s.county_code}){hint}",
                    f"{x}, {y}",
                    s.id,
                    s.name,
                )
            )
            continue
        if not s.county_code:
            path = gazetteer.path(county)
            _fill_admin(
                s,
                {f"{lvl}_code": d.code for lvl, d in path.items()},
                {lvl: d.name for lvl, d in path.items()},
            )
        if not s.township_code:
            rev = gazetteer.reverse_township(x, y, code)
            if rev is not None:
                s.township_code, s.township = rev.code, s.township or rev.name
                s.extra = {**s.extra, "township_source": "nearest"}


def _validate_row(
    row: RawRow,
    default_crs: CoordSystem,
    fix_swapped: bool,
    report: ImportReport,
    can_geocode: bool = False,
) -> _Candidate | None:
    v = row.values
    errors: list[RowIssue] = []
    warnings: list[RowIssue] = []
    text = {k: normalise_text(v[k]) if k in v else "" for k in _TEXT_FIELDS}
    name = text["name"]
    line = row.line

    def reject(field_name: str, reason: str, value: object = None) -> None:
        errors.append(
            RowIssue(
                line,
                field_name,
                reason,
                None if value is None else str(value),
                text["id"] or None,
                name or None,
            )
        )

    def warn(field_name: str, reason: str, value: object = None) -> None:
        warnings.append(
            RowIssue(
                line,
                field_name,
                reason,
                None if value is None else str(value),
                text["id"] or None,
                name or None,
            )
        )

    if not name:
        reject("name", "name is missing")
    kind = None
    if not text["kind"]:
        reject("kind", "kind is missing")
    else:
        try:
            kind = parse_kind(text["kind"])
        except ValidationError as exc:
            reject("kind", exc.message, text["kind"])
    if "_geometry_error" in v:
        reject("geometry", str(v["_geometry_error"]))

    # Coordinates: numbers, range, order, declared system.
    lon = lat = None
    try:
        lon = _float(v.get("lon"))
    except (TypeError, ValueError):
        reject("lon", "longitude is not a number", v.get("lon"))
    try:
        lat = _float(v.get("lat"))
    except (TypeError, ValueError):
        reject("lat", "latitude is not a number", v.get("lat"))
    coord_error = any(e.field in ("lon", "lat", "geometry") for e in errors)
    has_place = any(
        text[k] for k in ("address", "province", "prefecture", "county", "township", "village")
    )
    geocode = lon is None and lat is None and not coord_error and can_geocode and has_place
    if lon is None and lat is None and not coord_error and not geocode:
        reject(
            "lon",
            "coordinates are missing (经度/纬度)"
            + ("" if has_place else ", and there is no address to geocode"),
        )
    elif (lon is None) != (lat is None) and not coord_error:
        reject("lat" if lat is None else "lon", "only one of longitude/latitude is given")
    if lon is not None and lat is not None:
        x0, y0, x1, y1 = CHINA_BOUNDS
        looks_swapped = (y0 <= lon <= y1) and (x0 <= lat <= x1)
        if looks_swapped:
            if fix_swapped:
                warn("lon", "longitude and latitude were swapped; fixed", f"{lon}, {lat}")
                lon, lat = lat, lon
            else:
                reject("lon", "longitude and latitude look swapped", f"{lon}, {lat}")
        elif not (-180 <= lon <= 180):
            reject("lon", "longitude out of range -180..180", lon)
        elif not (-90 <= lat <= 90):
            reject("lat", "latitude out of range -90..90", lat)
    row_crs = default_crs
    if text["crs"]:
        try:
            row_crs = CoordSystem.parse(text["crs"])
        except ValidationError as exc:
            reject("crs", exc.message, text["crs"])

    services: list[str] = []
    raw_services = v.get("services")
    parts = (
        raw_services
        if isinstance(raw_services, list)
        else _SERVICE_SEPARATORS.split(normalise_text(raw_services).replace("纳凉/取暖", "纳凉"))
    )
    for part in parts:
        part = normalise_text(part)
        if not part:
            continue
        try:
            services.append(parse_service(part))
        except ValidationError:
            if "/" in part:  # "雨具/饮水" written with a slash
                sub = [p for p in part.split("/") if p]
                try:
                    services.extend(parse_service(p) for p in sub)
                    continue
                except ValidationError:
                    pass
            warn("services", f"unknown service {part!r} ignored", part)

    status = None
    try:
        status = parse_status(text["status"])
    except ValidationError as exc:
        reject("status", exc.message, text["status"])
    demo = False
    try:
        demo = _bool(v.get("demo")) if v.get("demo") not in (None,) else False
    except ValueError as exc:
        reject("demo", str(exc), v.get("demo"))
    updated = None
    try:
        updated = _datetime(v.get("updated_at"))
    except ValueError:
        reject(
            "updated_at",
            "not a date/time (use 2026-11-01 or 2026-11-01T08:00:00)",
            v.get("updated_at"),
        )
    if text["hours"]:
        try:
            OpeningHours.parse(text["hours"])
        except ValidationError as exc:
            warn("hours", f"{exc.message}; kept as text, open-now unknown", text["hours"])
    precision = Precision.EXACT
    if text["precision"]:
        try:
            precision = Precision(text["precision"].lower())
        except ValueError:
            warn(
                "precision",
                f"unknown precision {text['precision']!r}; "
                f"use one of {', '.join(p.value for p in Precision)}",
                text["precision"],
            )
            precision = Precision.UNKNOWN
    codes: dict[str, str | None] = {}
    for fname, lengths in _CODE_LENGTHS.items():
        code = text[fname].replace(" ", "")
        if code.endswith(".0"):
            code = code[:-2]  # Excel numbers
        if code and not (code.isdigit() and len(code) in lengths):
            warn(
                fname, f"admin code must be {' or '.join(map(str, lengths))} digits; ignored", code
            )
            code = ""
        codes[fname] = code or None
    phone = text["phone"]
    if phone and not re.fullmatch(r"[0-9+\-() 转,，/、]+", phone):
        warn("phone", "phone number has unexpected characters", phone)
    orig = {}
    if text["orig_crs"]:
        try:
            orig = {
                "orig_lon": _float(v.get("orig_lon")),
                "orig_lat": _float(v.get("orig_lat")),
                "orig_crs": CoordSystem.parse(text["orig_crs"]),
            }
        except (ValueError, ValidationError):
            warn("orig_crs", "original coordinate columns unreadable; replaced", text["orig_crs"])
    extra = dict(row.extra)
    raw_extra = v.get("extra")
    if isinstance(raw_extra, dict):
        extra.update({str(k): normalise_text(x) for k, x in raw_extra.items()})
    elif normalise_text(raw_extra):
        try:
            extra.update({str(k): normalise_text(x) for k, x in json.loads(str(raw_extra)).items()})
        except (ValueError, AttributeError):
            warn("extra", "extra is not a JSON object; kept as text", raw_extra)
            extra["extra"] = normalise_text(raw_extra)

    report.warnings.extend(warnings)
    if errors:
        report.rejected.extend(errors)
        return None
    assert kind is not None and status is not None and (geocode or lon is not None)
    place = (
        codes["county_code"]
        or text["county"]
        or (f"{lon:.3f},{lat:.3f}" if lon is not None else text["address"])
    )
    station = Station(
        id=text["id"] or stable_id(name, kind, place),
        name=name,
        kind=kind,
        name_en=text["name_en"] or None,
        services=tuple(sorted(set(services))),
        address=text["address"] or None,
        province=text["province"] or None,
        prefecture=text["prefecture"] or None,
        county=text["county"] or None,
        township=text["township"] or None,
        village=text["village"] or None,
        precision=precision,
        hours=text["hours"] or None,
        phone=phone or None,
        union=text["union"] or None,
        status=status,
        demo=demo,
        source=text["source"] or None,
        notes=text["notes"] or None,
        updated_at=updated,
        extra=extra,
        **codes,
        **orig,
    )
    return _Candidate(line, station, lon, lat, row_crs, not text["id"])


def _drop_duplicates(
    stations: list[Station],
    lines: dict[int, int],
    derived: set[int],
    existing: Iterable[tuple[str, str, float | None, float | None]],
    radius_m: float,
    report: ImportReport,
) -> list[Station]:
    by_name: dict[str, list[tuple[str, float, float, str]]] = defaultdict(list)
    for sid, name, x, y in existing:
        if x is not None and y is not None:
            by_name[_key(name)].append((sid, x, y, f"stored station {sid}"))
    seen_ids: dict[str, int] = {}
    kept = []
    for s in stations:
        line = lines[id(s)]
        if s.id in seen_ids:
            reason = (
                f"duplicate id (first on line {seen_ids[s.id]})"
                if id(s) not in derived
                else f"duplicate of line {seen_ids[s.id]}: same name, kind and place"
            )
            report.rejected.append(RowIssue(line, "id", reason, s.id, s.id, s.name))
            continue
        dup = None
        for other_id, x, y, label in by_name.get(_key(s.name), ()):
            if other_id == s.id:
                continue
            d = float(_crs.distance_m(s.lon, s.lat, x, y))
            if d <= radius_m:
                dup = f"duplicate of {label} with the same name, {d:.0f} m away"
                break
        if dup:
            report.rejected.append(RowIssue(line, "name", dup, s.name, s.id, s.name))
            continue
        seen_ids[s.id] = line
        by_name[_key(s.name)].append((s.id, s.lon, s.lat, f"line {line}"))
        kept.append(s)
    return kept


def read_registry(
    path: str | Path,
    fmt: str | None = None,
    crs: str | None = "wgs84",
    sheet: str | None = None,
    fix_swapped: bool = True,
    duplicate_radius_m: float = 50.0,
    existing: Iterable[tuple[str, str, float | None, float | None]] = (),
    geocoder=None,
    gazetteer=None,
) -> tuple[list[Station], ImportReport]:
    """Read and validate a registry file; nothing is stored.

    Returns
    -------
    The valid stations and the report (rejected rows and warnings).

    Raises
    ------
    FileFormatError
        If the file as a whole cannot be read.
    """
    path = Path(path)
    unknown: list[tuple[int, str]] = []
    kind, rows = read_raw(path, fmt, sheet, unknown)
    report = ImportReport(source=str(path), format=kind)
    for line, col in unknown:
        report.warnings.append(
            RowIssue(line, col, "column not recognised; values kept in extra", col)
        )
    stations, report = validate_rows(
        rows,
        crs,
        fix_swapped,
        duplicate_radius_m,
        existing,
        report,
        geocoder=geocoder,
        gazetteer=gazetteer,
    )
    return stations, report


def import_registry(
    repo,
    path: str | Path,
    *,
    strict: bool = False,
    fmt: str | None = None,
    crs: str | None = "wgs84",
    sheet: str | None = None,
    fix_swapped: bool = True,
    duplicate_radius_m: float = 50.0,
    geocoder=None,
    gazetteer=None,
) -> ImportReport:
    """Validate a registry file and store its stations in one transaction.

    Default mode commits the valid rows and reports the rest; ``strict=True`` raises
    :class:`ImportRefused` (carrying the report as ``exc.report``) and writes nothing when any
    row is rejected. Re-importing a file updates stations by id and never duplicates.
    ``geocoder`` places rows without coordinates; ``gazetteer`` fills missing admin codes
    from the coordinates and warns where the stated county disagrees (see
    :func:`validate_rows`).
    """
    stations, report = read_registry(
        path,
        fmt,
        crs,
        sheet,
        fix_swapped,
        duplicate_radius_m,
        existing=repo.positions(),
        geocoder=geocoder,
        gazetteer=gazetteer,
    )
    report.strict = strict
    if strict and report.rejected:
        exc = ImportRefused(
            f"{len(report.rejected_lines)} of {report.rows} rows rejected; strict mode "
            "imported nothing",
            rejected=len(report.rejected_lines),
        )
        exc.report = report
        raise exc
    result = repo.save(stations)
    report.imported, report.updated, report.unchanged = (
        result.inserted,
        result.updated,
        result.unchanged,
    )
    report.committed = True
    return report


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------
def station_record(s: Station, lang: str = "en") -> dict[str, object]:
    """One station as a flat record with the export columns (see :data:`EXPORT_FIELDS`).

    ``lang="zh"`` gives Chinese headers and labels (kinds, services, status, 是/否), as
    unions keep their sheets; both forms import back unchanged.
    """
    updated = s.updated_at.astimezone(CHINA_TZ).isoformat() if s.updated_at else None
    rec: dict[str, object] = {
        **{
            k: getattr(s, k)
            for k in EXPORT_FIELDS
            if k
            not in ("services", "crs", "orig_crs", "precision", "status", "updated_at", "extra")
        },
        "services": ",".join(s.services),
        "crs": "wgs84",
        "orig_crs": s.orig_crs.value if s.orig_crs else None,
        "precision": s.precision.value,
        "status": s.status.value,
        "updated_at": updated,
        "extra": json.dumps(s.extra, ensure_ascii=False, sort_keys=True) if s.extra else None,
    }
    if lang == "zh":
        rec["kind"] = KINDS[s.kind].zh if s.kind in KINDS else s.kind
        rec["services"] = "、".join(SERVICES[c].zh if c in SERVICES else c for c in s.services)
        rec["status"] = STATUS_TERMS[s.status.value].zh
        rec["demo"] = "是" if s.demo else "否"
        return {HEADER_ALIASES[k][0]: rec[k] for k in EXPORT_FIELDS}
    return {k: rec[k] for k in EXPORT_FIELDS}


def export_stations(
    stations: list[Station], path: str | Path, fmt: str | None = None, lang: str = "en"
) -> Path:
    """Write stations to CSV (UTF-8 with BOM, for Excel), XLSX, GeoJSON or GeoPackage.

    GeoJSON and GeoPackage carry every field as a property (English names) with WGS-84 point
    geometries; CSV and XLSX have ``lon``/``lat`` columns and ``lang`` headers. Every format
    imports back to the same stations.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        records = [station_record(s, lang) for s in stations]
        header = (
            list(records[0])
            if records
            else [HEADER_ALIASES[k][0] if lang == "zh" else k for k in EXPORT_FIELDS]
        )
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=header)
            w.writeheader()
            for rec in records:
                w.writerow(
                    {
                        k: ("" if v is None else repr(v) if isinstance(v, float) else v)
                        for k, v in rec.items()
                    }
                )
    elif fmt == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "stations"
        header = [HEADER_ALIASES[k][0] if lang == "zh" else k for k in EXPORT_FIELDS]
        ws.append(header)
        for s in stations:
            ws.append(list(station_record(s, lang).values()))
        wb.save(path)
    elif fmt in ("geojson", "json"):
        path.write_text(
            json.dumps(stations_geojson(stations, full=True), ensure_ascii=False), encoding="utf-8"
        )
    elif fmt == "gpkg":
        import geopandas as gpd

        records = [station_record(s) for s in stations]
        gdf = gpd.GeoDataFrame(
            records,
            columns=EXPORT_FIELDS,
            geometry=gpd.points_from_xy([s.lon for s in stations], [s.lat for s in stations]),
            crs="EPSG:4326",
        )
        for col in EXPORT_FIELDS:
            if col not in ("lon", "lat", "orig_lon", "orig_lat", "demo"):
                gdf[col] = gdf[col].astype(object)
        gdf.to_file(path, layer="stations", driver="GPKG", engine="pyogrio")
    else:
        raise FileFormatError(f"unknown export format {fmt!r}; use csv, xlsx, geojson or gpkg")
    return path


def stations_geojson(
    stations: Iterable[Station],
    full: bool = False,
    at: datetime | None = None,
    distances: Iterable[float] | None = None,
) -> dict:
    """One GeoJSON serialiser (RFC 7946, WGS-84) for the API, maps and exports.

    ``full=True`` gives exactly the export record (for lossless round trips); otherwise the
    API's display properties (labels, ``open_now`` at ``at``, ``distance_m``).
    :func:`stations_geojson_bytes` writes the same display features as JSON bytes, fast.
    """
    features = []
    dist = iter(distances) if distances is not None else None
    at = at or datetime.now(UTC)  # one instant for the whole answer
    hours_memo: dict = {}  # stations share a few hours texts: evaluate each once per answer
    for s in stations:
        if full:
            props = station_record(s)
            props["services"] = list(s.services)
            props["extra"] = dict(s.extra)
        else:
            props = station_properties(s, at, hours_memo)
            if dist is not None:
                props["distance_m"] = round(float(next(dist)), 1)
        features.append(
            {
                "type": "Feature",
                "id": s.id,
                "geometry": (
                    {"type": "Point", "coordinates": [s.lon, s.lat]} if s.lon is not None else None
                ),
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


#: Bound of a :func:`stations_geojson_bytes` cache (entries; about 0.7 KB each); it is emptied
#: when full.
FEATURE_CACHE_MAX = 300_000


def station_properties(s: Station, at: datetime | None = None, memo: dict | None = None) -> dict:
    """Display properties of a station for the API and map popups.

    ``memo`` (a dict kept by the caller for one instant ``at``) caches the opening-hours
    evaluation by hours text and status.
    """
    props = _static_properties(s)
    props["open_now"], props["closes_at"] = _hours_state(s, at, memo)
    return props


def _hours_state(s: Station, at: datetime | None, memo: dict | None) -> tuple:
    key = (s.hours, s.status)
    state = memo.get(key) if memo is not None else None
    if state is None:
        closes = s.opening_hours.closes_at(at) if s.status.value == "open" else None
        state = (s.is_open(at), closes.strftime("%H:%M") if closes else None)
        if memo is not None:
            memo[key] = state
    return state


_MINUTE_MEMO: tuple[datetime | None, dict] = (None, {})


def _minute_memo(at: datetime) -> dict:
    """The hours-state memo shared by every answer within ``at``'s minute.

    Opening hours have minute resolution, so whether a station is open (and when it closes)
    is the same for every instant of one minute; the memo is replaced when the minute moves.
    """
    global _MINUTE_MEMO
    minute = at.replace(second=0, microsecond=0)
    current, memo = _MINUTE_MEMO
    if current != minute:
        memo = {}
        _MINUTE_MEMO = (minute, memo)  # one assignment: threads see the old or the new pair
    return memo


def stations_geojson_bytes(
    stations: Iterable[Station], at: datetime | None = None, cache: dict | None = None, **members
) -> bytes:
    """The display FeatureCollection of :func:`stations_geojson` as JSON bytes (UTF-8).

    Each feature's time-independent part is encoded once (orjson) and kept in ``cache`` by
    station id — a dict owned by whoever owns the stations (the server's index) and dropped
    with them — so a map panning over a 200,000-station registry re-encodes nothing but
    ``open_now``/``closes_at``. ``members`` are added to the collection object.
    """
    import orjson

    at = at or datetime.now(UTC)
    memo = _minute_memo(at)
    cache = {} if cache is None else cache
    parts = []
    for s in stations:
        head = cache.get(s.id)
        if head is None:
            props = _static_properties(s)
            del props["open_now"], props["closes_at"]
            geometry = (
                {"type": "Point", "coordinates": [s.lon, s.lat]} if s.lon is not None else None
            )
            feature = {"type": "Feature", "id": s.id, "geometry": geometry, "properties": props}
            head = orjson.dumps(feature)[:-2]  # open: the dynamic properties follow
            if len(cache) >= FEATURE_CACHE_MAX:
                cache.clear()
            cache[s.id] = head
        open_now, closes = _hours_state(s, at, memo)
        parts.append(
            head
            + b',"open_now":'
            + (b"null" if open_now is None else b"true" if open_now else b"false")
            + b',"closes_at":'
            + (b'"' + closes.encode() + b'"' if closes else b"null")
            + b"}}"
        )
    tail = b"".join(b"," + orjson.dumps(k) + b":" + orjson.dumps(v) for k, v in members.items())
    return b'{"type":"FeatureCollection","features":[' + b",".join(parts) + b"]" + tail + b"}"


def _static_properties(s: Station) -> dict:
    term = s.kind_term
    return {
        "id": s.id,
        "name": s.name,
        "name_en": s.name_en,
        "kind": s.kind,
        "kind_label": term.zh,
        "kind_label_en": term.en,
        "services": list(s.services),
        "service_labels": [SERVICES[c].zh if c in SERVICES else c for c in s.services],
        "address": s.address,
        "province": s.province,
        "prefecture": s.prefecture,
        "county": s.county,
        "township": s.township,
        "village": s.village,
        "province_code": s.province_code,
        "prefecture_code": s.prefecture_code,
        "county_code": s.county_code,
        "township_code": s.township_code,
        "hours": s.hours,
        "open_now": None,  # filled per answer
        "closes_at": None,
        "phone": s.phone,
        "union": s.union,
        "status": s.status.value,
        "demo": s.demo,
        "precision": s.precision.value,
        "source": s.source,
        "updated_at": s.updated_at.astimezone(CHINA_TZ).isoformat() if s.updated_at else None,
        "lon": s.lon,
        "lat": s.lat,
    }
