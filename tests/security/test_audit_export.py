"""The audit export (``yizhan audit export``, :func:`geo.records.audit.export_audit`) with
hostile text in every text it writes (station names, phone numbers, the actor, the reason,
before/after values): opened with :mod:`csv` and openpyxl, no text is ever a formula, and the
XLSX cells read back as the original text. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv

import openpyxl
import pytest

from geo.models import Station
from geo.records.audit import export_audit
from geo.spreadsheet import FORMULA_TRIGGERS, unquote_cell
from geo.store import StationRepository
from security.payloads import FORMULAS, PAYLOADS

pytestmark = pytest.mark.both_backends

HOSTILE = FORMULAS + PAYLOADS[:3]


@pytest.fixture
def audited(db_url):
    repo = StationRepository.from_url(db_url)
    repo.init_schema()
    for i, text in enumerate(HOSTILE):
        s = Station(
            id=f"X{i:02d}",
            name=text,
            kind="rest_stop",
            lon=109.2 + i * 0.001,
            lat=25.0,
            county_code="450225",
            phone="0772",
        )
        repo.save([s], actor=text, source="web", reason=text)
        repo.save([Station(**{**_fields(s), "phone": text})], actor=text, source="web", reason=text)
    yield repo.audit("450225")
    repo.engine.dispose()


def _fields(s: Station) -> dict:
    return {f: getattr(s, f) for f in s.__dataclass_fields__ if f != "version"}


def test_audit_csv_never_runs_a_formula(audited, tmp_path):
    out = export_audit(audited, tmp_path / "audit.csv")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    cells = [c for row in rows[1:] for c in row]
    assert cells, "empty export"
    for cell in cells:
        assert not cell.startswith(FORMULA_TRIGGERS), cell
    seen = {unquote_cell(c) for c in cells}
    for text in HOSTILE:
        assert text in seen  # written (quoted) and read back as it was


def test_audit_xlsx_has_no_formula_cell(audited, tmp_path):
    out = export_audit(audited, tmp_path / "audit.xlsx", lang="en")
    wb = openpyxl.load_workbook(out)
    values = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.value
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS):
                    assert cell.quotePrefix, cell.value
                values.add(cell.value)
    for text in HOSTILE:
        assert text in values
