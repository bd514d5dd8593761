"""Geocode a whole file: every input column kept, results added, no row lost.

The address column is found by name (``address``, ``地址``, ``详细地址`` …) unless given; a
file without one is geocoded from its admin columns (省, 市, 县区, 乡镇, 村). Each output row
ends ``ok`` with a position, or ``failed`` with the reason.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from geo import tables
from geo.errors import FileFormatError
from geo.geocode.chain import geocode_many
from geo.records.read import match_header
from geo.spreadsheet import csv_cell, neutralise_workbook
from geo.tables import HeaderMatcher, cell_text

ADDRESS_HEADERS = {"address", "地址", "详细地址", "站点地址", "地点", "位置", "addr"}
_ADDRESS = HeaderMatcher({"address": tuple(sorted(ADDRESS_HEADERS))})
ADMIN_FIELDS = ("province", "prefecture", "county", "township", "village")
RESULT_COLUMNS = [
    "lon",
    "lat",
    "precision",
    "province_code",
    "prefecture_code",
    "county_code",
    "township_code",
    "village_code",
    "provider",
    "status",
    "reason",
]


class ProgressBar(Protocol):
    """What the ``progress`` callback of :func:`geocode_file` returns (a click progress bar):
    a context manager whose ``update(n)`` advances it by ``n`` rows."""

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> bool | None: ...

    def update(self, n: int, /) -> None: ...


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV (UTF-8/GB18030), the first sheet of an XLSX or the properties of
    GeoJSON features, as text (read by :func:`geo.tables.read_table`; blank rows skipped)."""
    table = tables.read_table(path)
    width = len(table.columns)
    rows = [[cell_text(c) for c in r.cells] for r in table.rows]
    return table.columns, [(r + [""] * width)[: max(width, len(r))] for r in rows]


def geocode_file(
    geocoder,
    path: str | Path,
    out: str | Path,
    column: str | None = None,
    city: str | None = None,
    progress: Callable[[int], ProgressBar] | None = None,
) -> dict:
    """Geocode ``path`` into ``out`` (.csv or .xlsx); return a summary by precision."""
    path, out = Path(path), Path(out)
    header, rows = read_table(path)
    if column is not None:
        if column not in header:
            raise FileFormatError(
                f"{path.name}: no column {column!r}; columns: {', '.join(header)}"
            )
        addr_idx = [header.index(column)]
    else:
        found = [i for i, h in enumerate(header) if _ADDRESS.match(h)]
        admin = [i for i, h in enumerate(header) if match_header(h) in ADMIN_FIELDS]
        addr_idx = admin + found[:1]
        if not addr_idx:
            raise FileFormatError(
                f"{path.name}: no address column (address, 地址, 详细地址 "
                "…) and no admin columns; name one with --column"
            )
    addresses = []
    for r in rows:
        parts = [r[i] for i in addr_idx if r[i]]
        # Admin names already at the start of the address are not repeated.
        text = "".join(p for p in parts[:-1] if p not in parts[-1]) + parts[-1] if parts else ""
        addresses.append(text)
    bar = progress(len(addresses)) if progress else None
    if bar is not None:
        with bar:
            results = geocode_many(geocoder, addresses, city, progress=bar.update)
    else:
        results = geocode_many(geocoder, addresses, city)
    out_rows = []
    counts: Counter[str] = Counter()
    for r, res in zip(rows, results, strict=True):
        extra: dict[str, object] = dict.fromkeys(RESULT_COLUMNS, "")
        if res.result is not None:
            g = res.result
            extra.update(
                {
                    "lon": g.lon,
                    "lat": g.lat,
                    "precision": g.precision.value,
                    "provider": g.provider,
                    "status": "ok",
                    **g.codes,
                }
            )
            counts[g.precision.value] += 1
        else:
            extra.update({"status": "failed", "reason": res.error or ""})
            counts["failed"] += 1
        out_rows.append(r + [extra[c] for c in RESULT_COLUMNS])
    out_header = header + [c if c not in header else f"{c}_geocoded" for c in RESULT_COLUMNS]
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None  # a new workbook has one active sheet
        ws.append(out_header)
        for row in out_rows:
            ws.append(row)
        neutralise_workbook(wb)
        wb.save(out)
    else:
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([csv_cell(v) for v in out_header])
            w.writerows([csv_cell(v) for v in row] for row in out_rows)
    order = ["exact", "street", "village", "township", "county", "prefecture", "failed"]
    return {"rows": len(rows), "by_precision": {k: counts[k] for k in order if counts[k]}}
