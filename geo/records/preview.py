"""A registry upload looked at before it is written (:func:`preview`), then written in one
transaction (:func:`commit`), and its report as a table (:func:`report_frame`,
:func:`write_report`).

The file is read and validated by :func:`geo.records.import_.read_registry`, the same code as
``yizhan import``: the same row errors with line numbers, coordinate systems, admin codes
filled from the gazetteer and duplicate check against the stored stations. Each valid row is
then compared with the stored station (:func:`geo.store.history.diff`; no difference =
unchanged) and put in one class:

``new``
    no stored station with that id, and inside the user's areas;
``changed``
    stored, inside the areas before and after, with the fields that differ (before/after);
``unchanged``
    stored and equal (bookkeeping fields aside);
``rejected``
    a row validation refused (line, field, reason; a line may have several);
``outside``
    a row the user's areas do not cover (:func:`geo.access.areas_cover`): a new station
    outside them, a stored station outside them, or a change that would MOVE a station out.

:func:`commit` writes ``new`` and ``changed`` only, through
:meth:`geo.store.StationRepository.save` with ``source="upload"`` and the versions seen at
preview time, so a station changed by someone else in between refuses the whole commit
(:class:`geo.errors.Conflict`, nothing written). Rejected and outside rows are never written:
by default the rest is written and they are reported (as ``yizhan import`` does); with
``strict=True`` any rejected or outside row refuses the whole commit
(:class:`geo.errors.ImportRefused`). Either way nothing is half-written.

A preview is plain JSON-ready data (:meth:`UploadPreview.to_dict` /
:meth:`UploadPreview.from_dict`) so a web server can keep it between two requests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from geo.access import areas_cover, point_covered
from geo.errors import ImportRefused
from geo.models import Station
from geo.records.import_ import read_registry
from geo.store import SaveResult, StationQuery
from geo.store.history import diff

__all__ = [
    "CLASSES",
    "PreviewRow",
    "UploadPreview",
    "commit",
    "preview",
    "report_frame",
    "write_report",
]

#: The classes of a previewed row, in the order pages and reports show them.
CLASSES = ("new", "changed", "unchanged", "rejected", "outside")
#: Why a row is outside the user's areas.
OUTSIDE_REASONS = ("outside", "stored_outside", "moved_out")
_CHUNK = 500


@dataclass
class PreviewRow:
    """One row of a preview.

    Attributes
    ----------
    kind
        One of :data:`CLASSES` (or ``"warning"`` for a validation warning).
    line
        The file line / sheet row / feature number (``None`` if unknown).
    id, name
        The station's id and name as read (rejected rows: as far as they were read).
    changes
        ``changed``: field -> ``[before, after]``; ``new``: field -> ``[None, value]``;
        ``outside`` (``moved_out``): the area fields that move.
    field, reason, value
        ``rejected`` / warnings: the field, the reason and the value refused;
        ``outside``: ``reason`` is one of :data:`OUTSIDE_REASONS`.
    county_code, county
        Where the row places the station (as read).
    code, params
        ``rejected`` / warnings: the reason's code and its params
        (:class:`geo.records.issues.RowIssue`), for pages in other languages.
    lon, lat
        The row's WGS-84 position as read (``None`` when the row gave none, e.g. rejected
        rows); for a ``changed`` row the position before is in ``changes`` (``lon``/``lat``).
    """

    kind: str
    line: int | None
    id: str | None
    name: str | None
    changes: dict[str, list[Any]] = field(default_factory=dict)
    field: str | None = None
    reason: str | None = None
    value: str | None = None
    county_code: str | None = None
    county: str | None = None
    code: str = ""
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    # the upload preview's map (issue 15 wave 3, maps)
    lon: float | None = None
    lat: float | None = None


@dataclass
class UploadPreview:
    """What an upload would do, nothing written yet.

    ``stations`` holds the records of the ``new`` and ``changed`` stations
    (:meth:`geo.models.Station.to_dict`) and ``expected_versions`` the stored version each
    was compared with (0: must still not exist) — what :func:`commit` writes and checks.
    """

    source: str
    format: str
    rows: int
    areas: list[str]
    items: list[PreviewRow] = field(default_factory=list)
    warnings: list[PreviewRow] = field(default_factory=list)
    stations: dict[str, dict[str, Any]] = field(default_factory=dict)
    expected_versions: dict[str, int] = field(default_factory=dict)

    def of(self, kind: str) -> list[PreviewRow]:
        """The rows of one class (:data:`CLASSES`), in file order."""
        return [r for r in self.items if r.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        """Rows per class; ``rejected`` counts lines (a line may have several issues)."""
        out = {k: len(self.of(k)) for k in CLASSES}
        out["rejected"] = len({r.line for r in self.of("rejected")})
        out["warnings"] = len(self.warnings)
        return out

    @property
    def writable(self) -> int:
        """How many stations a commit writes (new + changed)."""
        return len(self.stations)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (counts first, then each class's rows)."""
        return {
            "source": self.source,
            "format": self.format,
            "rows": self.rows,
            "areas": list(self.areas),
            "counts": self.counts,
            "items": [dataclasses.asdict(r) for r in self.items],
            "warnings": [dataclasses.asdict(r) for r in self.warnings],
            "stations": self.stations,
            "expected_versions": self.expected_versions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UploadPreview:
        """The inverse of :meth:`to_dict`."""
        return cls(
            source=str(data["source"]),
            format=str(data["format"]),
            rows=int(data["rows"]),
            areas=[str(a) for a in data.get("areas") or ()],
            items=[PreviewRow(**r) for r in data.get("items") or ()],
            warnings=[PreviewRow(**r) for r in data.get("warnings") or ()],
            stations=dict(data.get("stations") or {}),
            expected_versions={
                str(k): int(v) for k, v in (data.get("expected_versions") or {}).items()
            },
        )


def _station_from_dict(data: dict[str, Any]) -> Station:
    """The inverse of :meth:`Station.to_dict` (tuples, enums and times restored)."""
    values = dict(data)
    for key in ("services", "facilities"):
        values[key] = tuple(values.get(key) or ())
    if values.get("updated_at"):
        values["updated_at"] = datetime.fromisoformat(values["updated_at"])
    values["extra"] = dict(values.get("extra") or {})
    values["liuyou"] = dict(values.get("liuyou") or {})
    return Station(**values)


def _stored(repo, ids: Sequence[str]) -> dict[str, Station]:
    out: dict[str, Station] = {}
    for i in range(0, len(ids), _CHUNK):
        found, _ = repo.query(StationQuery(ids=tuple(ids[i : i + _CHUNK])))
        out.update({s.id: s for s in found})
    return out


def _record(s: Station) -> dict[str, Any]:
    return s.to_dict()


def _row(
    kind: str, s: Station, line: int | None, changes: dict[str, list[Any]], reason: str | None
) -> PreviewRow:
    return PreviewRow(
        kind,
        line,
        s.id,
        s.name,
        changes=changes,
        reason=reason,
        county_code=s.county_code,
        county=s.county,
        lon=s.lon,
        lat=s.lat,
    )


def preview(
    repo,
    source_file: str | Path,
    *,
    areas: Iterable[str],
    source_name: str | None = None,
    fmt: str | None = None,
    crs: str | None = "wgs84",
    sheet: str | None = None,
    fix_swapped: bool = True,
    duplicate_radius_m: float = 50.0,
    geocoder=None,
    gazetteer=None,
) -> UploadPreview:
    """Read and validate ``source_file`` as ``yizhan import`` does and class every row
    against the stored stations and ``areas`` (no areas: every area); nothing is written.

    ``source_name`` is the name shown for the file (the user's file name, not the server's
    temporary path). Raises :class:`geo.errors.FileFormatError` when the file as a whole
    cannot be read.
    """
    areas = [str(a) for a in areas]
    stations, report = read_registry(
        source_file,
        fmt,
        crs,
        sheet,
        fix_swapped,
        duplicate_radius_m,
        existing=repo.positions(),
        geocoder=geocoder,
        gazetteer=gazetteer,
    )
    out = UploadPreview(
        source=source_name or Path(source_file).name,
        format=report.format,
        rows=report.rows,
        areas=areas,
    )
    stored = _stored(repo, [s.id for s in stations])
    for s in stations:
        old = stored.get(s.id)
        after = _record(s)
        before = _record(old) if old is not None else None
        line = report.lines.get(s.id)
        if old is not None and not areas_cover(areas, old):
            out.items.append(_row("outside", s, line, {}, "stored_outside"))
            continue
        if not areas_cover(areas, s) or not point_covered(areas, s.lon, s.lat, gazetteer):
            # the stated codes, and the county its coordinates lie in, must both be mine
            moved = {k: v for k, v in diff(before, after).items() if k.endswith("_code")}
            reason = "moved_out" if old is not None else "outside"
            out.items.append(_row("outside", s, line, moved, reason))
            continue
        changes = diff(before, after)
        if old is None:  # a creation lists the fields that say something
            changes = {k: v for k, v in changes.items() if v[1] not in ({}, [], False)}
        if old is not None and not changes:
            out.items.append(_row("unchanged", s, line, {}, None))
            continue
        out.items.append(_row("new" if old is None else "changed", s, line, changes, None))
        out.stations[s.id] = after
        out.expected_versions[s.id] = old.version if old is not None else 0
    for issue in report.rejected:
        out.items.append(
            PreviewRow(
                "rejected",
                issue.line,
                issue.id,
                issue.name,
                field=issue.field,
                reason=issue.reason,
                value=issue.value,
                code=issue.code,
                params=dict(issue.params),
            )
        )
    for issue in report.warnings:
        out.warnings.append(
            PreviewRow(
                "warning",
                issue.line,
                issue.id,
                issue.name,
                field=issue.field,
                reason=issue.reason,
                value=issue.value,
                code=issue.code,
                params=dict(issue.params),
            )
        )
    out.items.sort(key=lambda r: (r.line is None, r.line or 0, CLASSES.index(r.kind)))
    return out


def commit(
    repo,
    upload: UploadPreview,
    actor: str,
    reason: str,
    *,
    strict: bool = False,
) -> SaveResult:
    """Write the ``new`` and ``changed`` stations of ``upload`` in ONE transaction with
    ``source="upload"``, ``actor`` and ``reason`` in their history.

    Raises
    ------
    Conflict
        A station was changed (or created) by someone else since the preview; nothing is
        written and the error says what changed.
    ImportRefused
        ``strict`` and some row was rejected or outside the areas; nothing is written.
    """
    _refuse_if_strict(upload, strict)
    stations = [_station_from_dict(upload.stations[sid]) for sid in upload.stations]
    expected = {s.id: upload.expected_versions.get(s.id, 0) for s in stations}
    return repo.save(
        stations, actor=actor, source="upload", reason=reason, expected_versions=expected
    )


def _refuse_if_strict(upload: UploadPreview, strict: bool) -> None:
    """:class:`ImportRefused` when ``strict`` and some row was rejected or outside the areas."""
    counts = upload.counts
    if strict and (counts["rejected"] or counts["outside"]):
        raise ImportRefused(
            f"{counts['rejected']} rows rejected and {counts['outside']} outside your areas; "
            "strict mode wrote nothing",
            rejected=counts["rejected"],
            outside=counts["outside"],
        )


@dataclass
class Proposed:
    """What :func:`propose` stored: the pending changes' ids (nothing was published)."""

    pending: list[int]
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def propose(
    repo,
    upload: UploadPreview,
    actor: str,
    reason: str,
    *,
    strict: bool = False,
) -> Proposed:
    """With approval on, an editor's upload: the ``new`` and ``changed`` stations become
    pending changes (:meth:`geo.store.changes.ChangeStore.propose_many`, ONE transaction,
    based on the versions seen at preview time), to be approved one by one by a reviewer.
    Same refusals as :func:`commit`."""
    from geo.store.changes import ChangeStore

    _refuse_if_strict(upload, strict)
    items = []
    for sid in upload.stations:
        base = int(upload.expected_versions.get(sid, 0))
        items.append(("edit" if base else "create", _station_from_dict(upload.stations[sid]), base))
    changes = ChangeStore(repo).propose_many(items, author=actor, reason=reason, source="upload")
    return Proposed(pending=[c.id for c in changes])


#: Report columns (Chinese headers for the XLSX / CSV).
REPORT_HEADERS = {
    "kind": "类别",
    "line": "行号",
    "id": "编号",
    "name": "名称",
    "county": "县区",
    "field": "字段",
    "before": "原值",
    "after": "新值",
    "reason": "原因",
}
#: Class names in the report.
CLASS_ZH = {
    "new": "新增",
    "changed": "修改",
    "unchanged": "未变",
    "rejected": "拒绝",
    "outside": "区域外",
    "warning": "提醒",
}
#: ``outside`` reasons in the report.
OUTSIDE_ZH = {
    "outside": "站点不在您负责的区域内",
    "stored_outside": "已存站点不在您负责的区域内",
    "moved_out": "此修改会把站点移出您负责的区域",
}


def _text(value: Any) -> Any:
    if value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def report_frame(upload: UploadPreview, reason_text: Callable[[PreviewRow], str] | None = None):
    """The report as a pandas DataFrame: one row per changed field, per rejection, per
    warning and per other row (columns :data:`REPORT_HEADERS`). ``reason_text`` says a
    rejection's or warning's reason (default: its English ``reason``)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for r in [*upload.items, *upload.warnings]:
        base = {
            "kind": CLASS_ZH.get(r.kind, r.kind),
            "line": r.line,
            "id": r.id,
            "name": r.name,
            "county": r.county or r.county_code,
        }
        if r.kind == "outside":
            reason = OUTSIDE_ZH.get(r.reason or "", r.reason)
        else:
            reason = reason_text(r) if reason_text and r.reason else r.reason
        if r.kind in ("changed", "new") or (r.kind == "outside" and r.changes):
            for name, (old, new) in r.changes.items():
                rows.append(
                    {
                        **base,
                        "field": name,
                        "before": _text(old),
                        "after": _text(new),
                        "reason": reason,
                    }
                )
            if r.changes:
                continue
        rows.append(
            {
                **base,
                "field": r.field,
                "before": _text(r.value) if r.value else None,
                "after": None,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=list(REPORT_HEADERS))


def write_report(
    upload: UploadPreview,
    out,
    fmt: str = "xlsx",
    reason_text: Callable[[PreviewRow], str] | None = None,
) -> None:
    """Write the report to ``out`` (a path or a binary file) as ``xlsx`` or ``csv`` (UTF-8
    with BOM); every text cell that a spreadsheet would run as a formula is neutralised
    (:mod:`geo.spreadsheet`). ``reason_text``: as :func:`report_frame`."""
    from geo.spreadsheet import csv_frame, neutralise_workbook, write_notes, write_table

    frame = report_frame(upload, reason_text)
    if fmt == "csv":
        data = csv_frame(frame.rename(columns=REPORT_HEADERS)).to_csv(index=False)
        payload = ("\ufeff" + data).encode("utf-8")
        if isinstance(out, str | Path):
            Path(out).write_bytes(payload)
        else:
            out.write(payload)
        return
    if fmt != "xlsx":
        raise ValueError(f"unknown report format {fmt!r}")
    from openpyxl import Workbook

    wb = Workbook()
    default = wb.active
    if default is not None:
        wb.remove(default)
    counts = upload.counts
    notes = [("文件", upload.source), ("行数", str(upload.rows))]
    notes += [(CLASS_ZH[k], str(counts[k])) for k in CLASSES]
    write_notes(wb, "说明", notes, ("项目", "内容"))
    write_table(wb, "明细", frame, headers=REPORT_HEADERS)
    neutralise_workbook(wb)
    wb.save(out)
