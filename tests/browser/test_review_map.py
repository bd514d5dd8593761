"""The review item's map (``/manage/review/<key>``) in a real Chromium against a real
``yizhan serve`` on SQLite and PostgreSQL, zh-CN, on a 360 px phone (touch) and a 1280 px
desktop, approval on (the default, so the fixes are a reviewer's): the map shows the item's
station and its numbered candidate positions; the prefecture's (柳州 450200) reviewer drags
the fix pin of a coarse-position item of 融水 (with a finger on the phone), or picks the
GCJ-02 candidate of a contradicting item from the list (the pin moves to it); the fix is
decided and the public API shows the station at the new position. No page scrolls
sideways, no console errors, no CSP violations.

The contradicting station is a point of 融水 (450225) whose GCJ-02 coordinate falls outside
the county, stored as if that coordinate were WGS-84 (found with a seeded generator over the
bundled gazetteer's outlines)."""

from __future__ import annotations

import time

import pytest
from test_review_queue import _gcj_trap

import support
from geo import crs
from geo.crs import CoordSystem
from geo.gazetteer import default_gazetteer
from geo.models import Precision, Station
from geo.store import StationRepository, UserRepository
from support import MANAGE_PASSWORD as PASSWORD
from support import MANAGE_SIZES as SIZES
from support import OVERFLOW, LiveServer, drag_marker, manage_login, manage_page

pytestmark = pytest.mark.browser
RONGSHUI = "450225"


def _station(id_: str, lon: float, lat: float, precision: Precision) -> Station:
    return Station(
        id=id_,
        name=f"融水审核驿站{id_}",
        kind="rest_stop",
        lon=lon,
        lat=lat,
        orig_lon=lon,
        orig_lat=lat,
        orig_crs=CoordSystem.WGS84,
        precision=precision,
        province_code="450000",
        prefecture_code="450200",
        county_code=RONGSHUI,
        county="融水苗族自治县",
    )


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review-map-browser")
    g = default_gazetteer()
    seat = g.get(RONGSHUI)
    _wx, _wy, gx, gy = _gcj_trap(g)
    with support.module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        users = UserRepository(repo.engine)
        users.create("ed", PASSWORD, "editor", [RONGSHUI])
        users.create("rev", PASSWORD, "reviewer", ["450200"])
        stations = []
        for w, _ in SIZES:
            d = 0.01 if w == 360 else 0.02
            stations.append(_station(f"P{w}", seat.lon + d, seat.lat, Precision.COUNTY))
            stations.append(
                _station(f"G{w}", gx, gy + (0 if w == 360 else 0.00001), Precision.EXACT)
            )
        repo.save(stations)
        repo.engine.dispose()
        srv = LiveServer(tmp, db_url=url, setup=())
        srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
        srv.start()
        yield srv
        srv.stop()


def _page(browser, size):
    return manage_page(browser, size, has_touch=size[0] == 360)


def _public(page, server, sid: str, expect_lon: float) -> tuple[float, float]:
    """The station's position as the public API reads it, waiting up to 10 s for
    ``expect_lon`` (each worker re-reads the registry within a second)."""
    deadline = time.monotonic() + 10
    while True:
        doc = page.request.get(server.url + f"/api/stations/{sid}").json()
        lon, lat = doc["geometry"]["coordinates"][:2]
        if abs(lon - expect_lon) < 1e-6 or time.monotonic() > deadline:
            return lon, lat
        time.sleep(0.2)


def _decided(page) -> None:
    """Wait for the queue page the decision leads to (an error on the item page fails)."""
    try:
        page.wait_for_selector("#mg-review-done, #mg-error, #mg-conflict", timeout=8000)
    except Exception:
        raise AssertionError(page.url + "\n" + page.inner_text("body")[:1500]) from None
    assert page.locator("#mg-error, #mg-conflict").count() == 0, page.inner_text("main")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fix_a_coarse_item_by_dragging_the_pin(browser, server, size):
    sid = f"P{size[0]}"
    context, page, errors = _page(browser, size)
    try:
        manage_login(page, server, "rev", f"/manage/review/coarse:{sid}")
        page.wait_for_selector("#mg-review-map[data-ready='1'][data-pin]")
        assert page.locator("#mg-review-map .mg-station-marker").count() == 1
        assert page.evaluate(OVERFLOW) <= 0
        before = page.get_attribute("#mg-review-map", "data-pin")
        drag_marker(page, context, "#mg-review-map .mg-pin", touch=size[0] == 360)
        page.wait_for_selector("#mg-review-map[data-moved='1']")
        lon, lat = float(page.input_value("#mg-lon")), float(page.input_value("#mg-lat"))
        assert page.get_attribute("#mg-review-map", "data-pin") != before
        assert lon > float(before.split(",")[0]) + 1e-5
        page.fill("#mg-fix-reason", "现场核实位置")
        page.click("#mg-fix button[type=submit]")
        _decided(page)
        got = _public(page, server, sid, lon)
        assert got == pytest.approx((lon, lat), abs=1e-6)
        assert page.evaluate(OVERFLOW) <= 0
        assert page.evaluate("() => window.__csp") == []
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fix_a_contradicting_item_with_a_numbered_candidate(browser, server, size):
    sid = f"G{size[0]}"
    context, page, errors = _page(browser, size)
    try:
        manage_login(page, server, "rev", f"/manage/review/conflict:{sid}")
        page.wait_for_selector("#mg-review-map[data-ready='1'][data-pin]")
        markers = page.locator("#mg-review-map .mg-cand-marker")
        assert markers.count() >= 1 and markers.first.inner_text() == "1"
        numbers = page.locator("#mg-fix .mg-cand-no")
        assert numbers.first.inner_text() == "1"
        assert page.evaluate(OVERFLOW) <= 0
        # move the pin away first (a tap on the map), then pick candidate 1 in the list
        page.locator("#mg-cand-pin").check()
        radio = page.locator("#mg-fix input[name=candidate][value='0']")
        cand = (float(radio.get_attribute("data-lon")), float(radio.get_attribute("data-lat")))
        page.locator("#mg-fix label.mg-candidate").first.click()
        page.wait_for_selector("#mg-review-map[data-candidate='1']")
        pin = page.get_attribute("#mg-review-map", "data-pin")
        assert tuple(float(v) for v in pin.split(",")) == pytest.approx(cand, abs=1e-6)
        assert radio.is_checked()
        page.click("#mg-fix button[type=submit]")
        _decided(page)
        lon, lat = _public(page, server, sid, cand[0])
        assert (lon, lat) == pytest.approx(cand, abs=1e-6)
        g = default_gazetteer()
        assert g.county_codes_at(lon, lat)[0] == RONGSHUI
        # the candidate is the GCJ-02 reading of the stored coordinate, converted back
        wx, wy, gx, _gy = _gcj_trap(g)
        assert crs.distance_m(lon, lat, wx, wy) < 5.0
        assert gx  # the trap exists
        assert page.evaluate(OVERFLOW) <= 0
        assert page.evaluate("() => window.__csp") == []
        assert errors == []
    finally:
        context.close()
