"""Audit export: a period's station changes as a CSV or XLSX sheet (``yizhan audit export``).

One line per changed field of each stored version (:class:`geo.store.history.StationVersion`):
when, which station, which version, what was done, the field, before and after, who, through
what and why. A version without field changes (a migration's first record) has one line with
the field empty. Times are shown in China time with their offset. Headers are Chinese by
default (``lang="en"``: English). Text a spreadsheet would run as a formula is written as text
(:mod:`geo.spreadsheet`), so a hostile station name or reason never runs.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from geo.errors import FileFormatError
from geo.hours import CHINA_TZ
from geo.records.read import HEADER_ALIASES
from geo.spreadsheet import csv_cell, neutralise_workbook, write_table

__all__ = ["ACTION_LABELS", "AUDIT_COLUMNS", "audit_rows", "export_audit"]

#: Column -> (zh, en) header.
AUDIT_COLUMNS: dict[str, tuple[str, str]] = {
    "at": ("时间", "time"),
    "station_id": ("驿站编号", "station id"),
    "name": ("驿站名称", "station name"),
    "county_code": ("县级代码", "county code"),
    "version": ("版本", "version"),
    "action": ("操作", "action"),
    "field": ("字段", "field"),
    "before": ("修改前", "before"),
    "after": ("修改后", "after"),
    "actor": ("操作人", "by"),
    "source": ("来源", "source"),
    "reason": ("原因", "reason"),
}

#: Action -> (zh, en) label.
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "create": ("新建", "create"),
    "edit": ("修改", "edit"),
    "close": ("关闭", "close"),
    "reopen": ("重新开放", "reopen"),
    "delete": ("删除", "delete"),
    "revert": ("恢复到旧版本", "revert"),
    "import": ("导入", "import"),
}

#: Record column -> station field, where they differ (for the Chinese field label).
_FIELD_OF_COLUMN = {"union_name": "union"}


def _field_label(column: str, lang: str = "zh") -> str:
    """A record column's (or field's) label: Chinese, the import's first header spelling
    (``name`` -> ``名称``); English (``lang="en"``), the field's name."""
    name = _FIELD_OF_COLUMN.get(column, column)
    if lang == "zh" and name in HEADER_ALIASES:
        return HEADER_ALIASES[name][0]
    return name


#: A record column's label in ``lang`` (public: the approval pages label their diff alike).
field_label = _field_label


def _value(value: Any) -> Any:
    """A cell value: numbers and text as they are, lists and mappings as JSON, None empty."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def audit_rows(versions: Iterable[Any], lang: str = "zh") -> list[dict[str, Any]]:
    """The export's lines (column -> value, columns as :data:`AUDIT_COLUMNS`)."""
    idx = 0 if lang == "zh" else 1
    out: list[dict[str, Any]] = []
    for v in versions:
        base = {
            "at": v.at.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
            "station_id": v.station_id,
            "name": v.name,
            "county_code": v.record.get("county_code"),
            "version": v.version,
            "action": ACTION_LABELS.get(v.action, (v.action, v.action))[idx],
            "actor": v.actor,
            "source": v.source,
            "reason": v.reason,
        }
        fields = sorted(v.changes.items()) or [("", [None, None])]
        for column, (before, after) in fields:
            out.append(
                {
                    **base,
                    "field": _field_label(column, lang) if column else None,
                    "before": _value(before),
                    "after": _value(after),
                }
            )
    return [{k: row.get(k) for k in AUDIT_COLUMNS} for row in out]


def export_audit(versions: Iterable[Any], path: str | Path, lang: str = "zh") -> Path:
    """Write the audit of ``versions`` to ``path`` (CSV, UTF-8 with BOM; or XLSX, by the
    extension); returns the path. :class:`FileFormatError` for another extension."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    idx = 0 if lang == "zh" else 1
    headers = {k: labels[idx] for k, labels in AUDIT_COLUMNS.items()}
    rows = audit_rows(versions, lang)
    if fmt not in ("csv", "xlsx"):
        raise FileFormatError(f"audit export: use a .csv or .xlsx file, not {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([headers[k] for k in AUDIT_COLUMNS])
            for row in rows:
                w.writerow(
                    [
                        "" if v is None else repr(v) if isinstance(v, float) else csv_cell(v)
                        for v in row.values()
                    ]
                )
        return path
    import openpyxl
    import pandas as pd

    wb = openpyxl.Workbook()
    default = wb.active
    frame = pd.DataFrame(rows, columns=list(AUDIT_COLUMNS), dtype=object)
    write_table(wb, "审计" if lang == "zh" else "audit", frame, headers)
    if default is not None:
        wb.remove(default)
    neutralise_workbook(wb)
    wb.save(path)
    return path
