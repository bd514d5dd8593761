"""Registry files into raw rows keyed by canonical field: the header aliases and the reading.

The file itself is read by :mod:`geo.tables` (encodings, title rows, sheets, features); this
module says which headers name which station field (:data:`HEADER_ALIASES`) and turns each row
into a :class:`RawRow` for :mod:`geo.records.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from geo.spreadsheet import unquote_cell
from geo.tables import (
    HeaderMatcher,
    detect_format,
    header_finder,
    is_blank,
    normalise_text,
    read_table,
)

__all__ = ["HEADER_ALIASES", "RawRow", "detect_format", "match_header", "read_raw"]

#: Canonical field → accepted header spellings (compared by :func:`geo.tables.normalise_header`:
#: NFKC, lower case, no spaces or joiners; a bracketed note such as ``(WGS84)`` is ignored).
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
    "precision": ("定位精度", "precision", "location_precision"),
    "hours": ("开放时间", "服务时间", "营业时间", "hours", "opening_hours"),
    "phone": ("联系电话", "电话", "服务电话", "phone", "tel", "telephone"),
    "union": ("所属工会", "主管工会", "运营单位", "union", "operator"),
    "status": ("状态", "运营状态", "status"),
    "demo": ("演示数据", "demo"),
    "source": ("来源", "数据来源", "source"),
    "notes": ("备注", "说明", "notes", "remark"),
    "updated_at": ("更新时间", "更新日期", "updated_at", "updated"),
    "extra": ("extra",),
    # 六有 (issue 15 item 7): facilities and the manual checks (geo/liuyou.py)
    "facilities": ("设施", "配套设施", "服务设施", "facilities", "facility"),
    "liuyou_sign": ("统一标识", "标识标牌", "统一标牌", "liuyou_sign", "sign"),
    "liuyou_rules": ("制度上墙", "规范制度", "制度公示", "liuyou_rules", "rules_posted"),
    "liuyou_manager": ("明确负责人", "负责人", "有负责人", "liuyou_manager", "manager"),
}

MATCHER = HeaderMatcher(HEADER_ALIASES)
_FIND_HEADER = header_finder(MATCHER, ("name",))


def match_header(header: str) -> str | None:
    """The canonical field for a column header, or ``None`` if it is not recognised."""
    return MATCHER.match(header)


@dataclass(slots=True)
class RawRow:
    """One input row: its line number and its values keyed by canonical field."""

    line: int
    values: dict[str, object]
    extra: dict[str, str] = field(default_factory=dict)


def read_raw(
    path: str | Path,
    fmt: str | None = None,
    sheet: str | int | None = None,
    unknown_columns: list[tuple[int, str]] | None = None,
) -> tuple[str, list[RawRow]]:
    """Read a registry file into raw rows keyed by canonical field.

    The header is the first of the first 10 lines with a name column (a title row above it is
    skipped); GeoJSON/OGR features are rows numbered from 1, a Point geometry giving
    ``lon``/``lat`` and the feature id giving ``id`` when no property does. In CSV, the one
    leading ``'`` that keeps a formula-like text a text (:func:`geo.spreadsheet.csv_cell`, as
    exports write it) is taken off, so an export imports back to the original text.

    Returns
    -------
    The detected format and the rows. Unrecognised headers are appended to
    ``unknown_columns`` as ``(line, header)`` (their values go to each row's ``extra``).

    Raises
    ------
    FileFormatError
        If the file cannot be read as its format, has no recognisable header, or two of its
        columns name the same field (``lon`` twice, or ``经度`` and ``lon``).
    """
    unknown = unknown_columns if unknown_columns is not None else []
    table = read_table(
        path,
        fmt,
        sheet,
        find_header=_FIND_HEADER,
        header_hint="with a name column (名称/name)",
    )
    if table.features:
        headers = table.columns
    else:
        headers = [normalise_text(c) for c in table.columns]
    match = MATCHER.match_columns(headers)
    match.check(table.name, table.header_line or None)
    columns = match.fields
    if not table.features:
        unknown.extend((table.header_line, headers[i]) for i, _ in match.unknown)
        quoted = table.format == "csv"
        return table.format, [
            _cells_row(
                r.line, [unquote_cell(c) for c in r.cells] if quoted else r.cells, columns, headers
            )
            for r in table.rows
        ]
    rows = []
    seen: set[int] = set()
    for r in table.rows:
        row = _cells_row(r.line, r.cells, columns, headers)
        for i, _ in match.unknown:
            if i not in seen and not is_blank(r.cells[i]):
                seen.add(i)
                unknown.append((r.line, headers[i]))
        geom = r.geometry
        if geom:
            if geom.get("type") != "Point":
                row.values["_geometry_error"] = f"geometry is {geom.get('type')}, not a Point"
            else:
                coords = geom.get("coordinates") or []
                if len(coords) >= 2:
                    row.values["lon"], row.values["lat"] = coords[0], coords[1]
        if r.id not in (None, "") and row.values.get("id") in (None, ""):
            row.values["id"] = r.id
        rows.append(row)
    return table.format, rows


def _cells_row(
    line: int, cells: list[object], columns: list[str | None], headers: list[str]
) -> RawRow:
    """Cells to values by field; cells of unknown columns go to ``extra`` by header."""
    values: dict[str, object] = {}
    extra: dict[str, str] = {}
    for f, header, cell in zip(columns, headers, cells, strict=False):
        if f:
            values[f] = cell
        elif header and cell is not None and cell != "":
            text = normalise_text(cell)
            if text:
                extra[header] = text
    return RawRow(line, values, extra)
