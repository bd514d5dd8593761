"""Hostile station text in the review queue (``/manage/review``, an item's page) and the 六有
page and workbook (``/manage/liuyou``): escaped in HTML, written as text in XLSX.

Each payload of :data:`security.payloads.PAYLOADS` and :data:`FORMULAS` becomes the name,
county name and address of a pair of same-name stations (a duplicate item) with a coarse
position, so every text the pages show carries it.
"""

from __future__ import annotations

import io

import openpyxl
import pytest
from markupsafe import escape

import support
from geo.gazetteer import default_gazetteer
from geo.models import Precision, Station
from geo.review_queue import item_key
from geo.spreadsheet import FORMULA_TRIGGERS
from geo.store import StationRepository, UserRepository
from security.payloads import FORMULAS, PAYLOADS

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
HOSTILE = PAYLOADS + FORMULAS
RONGSHUI = "450225"


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sec_review")
    seat = default_gazetteer().get(RONGSHUI)
    with support.module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        UserRepository(repo.engine).create("ed", PASSWORD, "editor", [RONGSHUI])
        stations = []
        for n, text in enumerate(HOSTILE):
            for k in (0, 1):
                stations.append(
                    Station(
                        id=f"H{n}-{k}",
                        name=text,
                        kind="rest_stop",
                        lon=seat.lon + n * 0.001,
                        lat=seat.lat + k * 0.0001,
                        precision=Precision.COUNTY,
                        province_code="450000",
                        prefecture_code="450200",
                        county_code=RONGSHUI,
                        county=text,
                        township=text,
                        address=text,
                    )
                )
        repo.save(stations)
        app = support.make_app(url, planner_dir=str(tmp / "jobs"), tile_url="")
        yield {"app": app, "repo": repo}
        support.close_app(app)
        repo.engine.dispose()


def _login(env):
    return support.login(env["app"], "ed", PASSWORD)


def _no_raw(html: str, text: str) -> None:
    if "<" in text or ">" in text or '"' in text:
        assert text not in html, text
    assert str(escape(text)) in html or text.strip() == "", text


def test_review_and_liuyou_pages_escape_hostile_text(env):
    client = _login(env)
    queue = client.get("/manage/review?state=all").get_data(as_text=True)
    liuyou = client.get("/manage/liuyou").get_data(as_text=True)
    dashboard = client.get("/manage/").get_data(as_text=True)
    for n, text in enumerate(HOSTILE):
        _no_raw(queue, text)
        _no_raw(liuyou, text)
        item = client.get(f"/manage/review/{item_key('duplicate', [f'H{n}-0', f'H{n}-1'])}")
        assert item.status_code == 200, text
        _no_raw(item.get_data(as_text=True), text)
        if "<" in text:
            assert text not in dashboard


def test_liuyou_workbook_writes_hostile_text_as_text(env):
    rv = _login(env).get(f"/manage/liuyou.xlsx?area={RONGSHUI}")
    assert rv.status_code == 200
    seen = set()
    for ws in openpyxl.load_workbook(io.BytesIO(rv.data)).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    seen.add(cell.value)
                    if cell.value.startswith(FORMULA_TRIGGERS):
                        assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
    assert {t for t in HOSTILE if not t.startswith("\r")} <= seen


def test_item_map_data_carries_hostile_names_as_data(env):
    """The item map's JSON block (read by static/js/manage/review.js, which shows names with
    textContent) holds each hostile name exactly, with no raw ``<`` that could end the block."""
    import json
    import re

    client = _login(env)
    for n, text in enumerate(HOSTILE):
        html = client.get(
            f"/manage/review/{item_key('duplicate', [f'H{n}-0', f'H{n}-1'])}"
        ).get_data(as_text=True)
        block = re.search(
            r'<script type="application/json" id="mg-review-config">(.*?)</script>', html, re.S
        )
        assert block is not None, text
        assert "<" not in block.group(1), text
        config = json.loads(block.group(1))
        assert [s["name"] for s in config["stations"]] == [text, text]
