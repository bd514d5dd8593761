"""Spreadsheet cells that never run as formulas: the one place CSV and XLSX writers neutralise
text, and registry reading undoes it.

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
