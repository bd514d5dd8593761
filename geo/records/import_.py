"""Registry import: read and validate a file (:func:`read_registry`), then store it in one
transaction (:func:`import_registry`).

Default mode commits the valid rows and reports the rest; ``strict=True`` commits nothing if any
row is rejected. Re-importing the same file updates stations by id and never duplicates (rows
without an id get a stable one; see :func:`geo.records.validate.stable_id`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from geo.errors import ImportRefused
from geo.models import Station
from geo.records.issues import ImportReport, RowIssue
from geo.records.read import read_raw
from geo.records.validate import validate_rows

__all__ = ["import_registry", "read_registry"]


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
    actor: str = "unknown",
    source: str = "unknown",
    reason: str = "",
) -> ImportReport:
    """Validate a registry file and store its stations in one transaction.

    Default mode commits the valid rows and reports the rest; ``strict=True`` raises
    :class:`ImportRefused` (carrying the report as ``exc.report``) and writes nothing when any
    row is rejected. Re-importing a file updates stations by id and never duplicates.
    ``geocoder`` places rows without coordinates; ``gazetteer`` fills missing admin codes
    from the coordinates and warns where the stated county disagrees (see
    :func:`validate_rows`). ``actor``, ``source`` and ``reason`` go into the history of every
    station created or changed (:meth:`geo.store.StationRepository.save`).
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
    result = repo.save(stations, actor=actor, source=source, reason=reason)
    report.imported, report.updated, report.unchanged = (
        result.inserted,
        result.updated,
        result.unchanged,
    )
    report.committed = True
    return report
