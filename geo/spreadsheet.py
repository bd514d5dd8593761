"""Spreadsheet cells that never run as formulas: the one place CSV and XLSX writers neutralise
text, and registry reading undoes it; and report sheets fit to forward (:func:`write_table`,
:func:`write_notes`: headers in the reader's language, number formats, frozen header row,
column widths set to the content).

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to Excel, WPS and LibreOffice (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``), so a station
name can run code or leak data when an export is opened. As the OWASP CSV-injection guidance
says, such cells are written as text: in CSV with one leading ``'`` (:func:`csv_cell`), in
XLSX as string cells with Excel's quote prefix, never as formulas (:func:`neutralise_workbook`).
Numbers stay numbers (``-1.5`` is a number, not text). :func:`unquote_cell` takes the ``'``
off again, so a CSV export imports back to the original text; a text that already starts with
``'`` before one of those characters gets one more ``'`` on writing, so every text round-trips.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FORMULA_TRIGGERS",
    "csv_cell",
    "csv_frame",
    "needs_quote",
    "neutralise_workbook",
    "unquote_cell",
    "write_notes",
    "write_table",
]

#: First characters that make a spreadsheet evaluate a text cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def needs_quote(text: str) -> bool:
    """Whether ``text`` would be read as a formula (after any leading ``'``) when written."""
    return text.lstrip("'").startswith(FORMULA_TRIGGERS)


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text that would be a formula gets one leading ``'``.

    Anything that is not a ``str`` (numbers, ``None``) is returned unchanged.
    """
    if isinstance(value, str) and needs_quote(value):
        return "'" + value
    return value


def unquote_cell(value: Any) -> Any:
    """Undo :func:`csv_cell`: drop exactly one leading ``'`` that it added."""
    if isinstance(value, str) and value.startswith("'") and needs_quote(value[1:]):
        return value[1:]
    return value


def csv_frame(frame):
    """A copy of a pandas DataFrame with its text cells passed through :func:`csv_cell`."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype.kind not in "biufcmM":  # text or mixed columns, not numbers or times
            out[col] = out[col].map(csv_cell)
    return out


def neutralise_workbook(wb) -> None:
    """Make every cell of an openpyxl workbook that would run as a formula a text cell.

    openpyxl stores any text starting with ``=`` as a formula; the product never writes
    formulas, so such cells become string cells, and every text cell starting with a
    :data:`FORMULA_TRIGGERS` character gets Excel's quote prefix (shown as text, not
    re-evaluated on edit). The text itself is unchanged, so it reads back as written.
    """
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                text = cell.value
                if isinstance(text, str) and text.startswith(FORMULA_TRIGGERS):
                    cell.quotePrefix = True


#: Widest column, in characters.
MAX_WIDTH_CHARS = 60


def _display_width(text: str) -> int:
    """Characters as a spreadsheet shows them: a CJK (wide) character counts twice."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell_value(value: Any) -> Any:
    """A plain Python value for openpyxl: NaN, inf and pandas' missing values become empty."""
    import math

    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not isinstance(value, (str, int, float, bool)):
        try:
            import pandas as pd

            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
        return str(value)
    return value


def _shown(value: Any, number_format: str) -> str:
    """Roughly how a cell reads on screen (for the column width)."""
    if value is None:
        return ""
    if isinstance(value, float | int) and not isinstance(value, bool):
        if number_format.endswith("%"):
            return f"{value * 100:.1f} %"
        if number_format == "0.0":
            return f"{value:.1f}"
        if number_format.startswith("#,##0"):
            return f"{value:,.0f}"
        if number_format.startswith("0.0"):
            return f"{value:.6f}"
    return str(value)


def write_table(
    wb,
    title: str,
    frame,
    headers: dict[str, str] | None = None,
    formats: dict[str, str] | None = None,
):
    """Write a pandas DataFrame as a sheet ``title`` of the openpyxl workbook ``wb``.

    One header row (columns renamed by ``headers``; others keep their name), frozen and with
    a filter, then exactly one row per frame row (no index, no empty rows). ``formats`` gives
    the Excel number format by column name (e.g. ``"0.0%"``); NaN and infinities are written
    as empty cells; each column is as wide as its longest shown value (CJK counted double,
    at most :data:`MAX_WIDTH_CHARS`). Returns the worksheet. Call
    :func:`neutralise_workbook` before saving.
    """
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    headers = headers or {}
    formats = formats or {}
    ws = wb.create_sheet(title)
    columns = [str(c) for c in frame.columns]
    ws.append([headers.get(c, c) for c in columns])
    for row in frame.itertuples(index=False, name=None):
        ws.append([_cell_value(v) for v in row])
    for j, col in enumerate(columns, start=1):
        fmt = formats.get(col)
        width = _display_width(headers.get(col, col))
        for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j, max_row=ws.max_row):
            if fmt and isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                cell.number_format = fmt
            width = max(width, _display_width(_shown(cell.value, fmt or "")))
        ws.column_dimensions[get_column_letter(j)].width = min(width + 2, MAX_WIDTH_CHARS)
        head = ws.cell(row=1, column=j)
        head.font = Font(bold=True)
        head.alignment = Alignment(vertical="center")
    ws.freeze_panes = "A2"
    if len(frame):
        ws.auto_filter.ref = ws.dimensions
    return ws


def write_notes(wb, title: str, rows: list[tuple[str, str]], headers: tuple[str, str]):
    """The notes sheet ``title`` (first in ``wb``): two columns, item and text, wrapped.

    ``headers`` names the two columns. Returns the worksheet.
    """
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(title, 0)
    ws.append(list(headers))
    for item, text in rows:
        ws.append([item, text])
    ws.column_dimensions["A"].width = max(_display_width(r[0]) for r in [headers, *rows]) + 2
    ws.column_dimensions["B"].width = 90
    for a, b in ws.iter_rows(min_row=1, max_row=ws.max_row):
        a.alignment = Alignment(vertical="top")
        b.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    return ws
