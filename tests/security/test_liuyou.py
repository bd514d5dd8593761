"""Hostile text in the 六有 outputs (issue 15 item 7): the report workbook and the station
page's facilities and criteria. Payloads from :mod:`security.payloads`."""

from __future__ import annotations

import html

import openpyxl
import pytest

from geo.liuyou import FACILITIES, register_facilities_text, write_report
from geo.models import Station
from geo.spreadsheet import FORMULA_TRIGGERS
from security.payloads import FORMULAS, PAYLOADS
from webapp.services import services

HOSTILE = PAYLOADS + FORMULAS


def _stations() -> list[Station]:
    return [
        Station(
            id=f"H{i}",
            name=text,
            kind="rest_stop",
            lon=109.609017 + i / 1000,
            lat=25.771258,
            precision="street",
            county_code="450226",
            county=text,
            township_code=f"45022610{i % 10}000",
            township=text,
            hours=text,
            facilities=("drinking_water",),
            liuyou={"sign": True},
            demo=True,
        )
        for i, text in enumerate(HOSTILE)
    ]


def test_liuyou_report_writes_hostile_text_as_text(tmp_path):
    path = write_report(tmp_path / "r.xlsx", _stations(), "450226")
    seen = set()
    for ws in openpyxl.load_workbook(path).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    seen.add(cell.value)
                    if cell.value.startswith(FORMULA_TRIGGERS):
                        assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
    # every hostile name reads back exactly as registered (openpyxl drops a bare \r prefix)
    assert {t for t in HOSTILE if not t.startswith("\r")} <= seen


@pytest.fixture
def hostile_facility():
    register_facilities_text("evil:<img src=x onerror=alert(1)>:</script><b>x")
    yield "evil"
    FACILITIES.pop("evil")


def test_station_page_escapes_a_hostile_facility_label(app, hostile_facility):
    s = _stations()[1]
    s.facilities = (hostile_facility, "wifi")
    services(app).repo.save([s])
    client = app.test_client()
    for url, label in (
        (f"/stations/{s.id}", "<img src=x onerror=alert(1)>"),
        (f"/stations/{s.id}?lang=en", "</script><b>x"),
    ):
        page = client.get(url).get_data(as_text=True)
        assert "<img src=x" not in page and "</script><b>" not in page
        assert html.escape(label, quote=False) in page, url
