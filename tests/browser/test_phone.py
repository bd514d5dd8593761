"""The public locator at the phone sizes couriers carry (and one desktop), in real Chromium.

What must hold on a phone: the page settles (no layout feedback loop refetching stations
forever), the map owns most of the screen with the list as a sheet over it, popups fit in the
viewport, a shared station or a region opens in view, nearest results are numbered on map and
list alike, a legend explains the colours, and the offline basemap says where it stops.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing (run scripts/install_chromium.sh)", allow_module_level=True)

pytestmark = pytest.mark.browser

SHOT = os.environ.get("YZ_SHOT", "after")  # "before" when run on the old code
SIZES = [(360, 740), (375, 667), (390, 844), (412, 915), (1280, 800)]
SHARED = "/?lat=24.32274&lon=109.44479&zoom=14&station=DEMO-LZ-LA-002"
LIUZHOU = {"latitude": 24.33, "longitude": 109.41}


def _api_log(page) -> list[float]:
    """Times (monotonic seconds) of every request the page makes to /api/."""
    log: list[float] = []
    page.on("request", lambda r: log.append(time.monotonic()) if "/api/" in r.url else None)
    return log


def settle(page, log: list[float], quiet_s: float = 2.0, limit_s: float = 15.0) -> None:
    """Wait until no /api/ request has been made for ``quiet_s`` (at most ``limit_s``)."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        last = log[-1] if log else start
        if time.monotonic() - last >= quiet_s:
            return
        page.wait_for_timeout(200)


def map_height(page) -> float:
    return page.locator("#yz-map").bounding_box()["height"]


def map_bounds_contain(page, lat: float, lon: float) -> bool:
    return page.evaluate(
        "([lat, lon]) => window.YizhanLocator.app.map.getBounds().contains([lat, lon])",
        [lat, lon],
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_idle_page_makes_no_requests_and_the_map_keeps_its_height(open_page, size):
    """Item 1: the shared-station link settles; idle for 5 s means zero /api/ requests."""
    tab = open_page(viewport=size, path=SHARED, wait_for_markers=False)
    page = tab.page
    log = _api_log(page)
    page.wait_for_selector(".leaflet-marker-pane .leaflet-marker-icon")
    settle(page, log)
    tab.screenshot(f"phone-{size[0]}x{size[1]}-{SHOT}")
    before = len(log)
    heights = set()
    for _ in range(25):
        heights.add(round(map_height(page)))
        page.wait_for_timeout(200)
    assert len(log) - before == 0, f"{len(log) - before} requests to /api/ in 5 s on an idle page"
    assert len(heights) == 1, f"the map height changed while idle: {sorted(heights)}"


def test_map_owns_the_phone_screen_with_the_list_as_a_sheet(open_page):
    tab = open_page(viewport=(360, 740))
    page = tab.page
    assert map_height(page) >= 0.6 * 740
    sheet = page.locator("#yz-results-box")
    handle = page.locator("#yz-sheet-toggle")
    assert handle.is_visible()
    assert sheet.get_attribute("data-sheet") == "collapsed"
    page.wait_for_function("() => document.getElementById('yz-count').dataset.count !== ''")
    n = page.locator("#yz-count").get_attribute("data-count")
    assert n in handle.inner_text()
    assert handle.get_attribute("aria-expanded") == "false"
    collapsed = sheet.bounding_box()["height"]
    handle.click()
    assert handle.get_attribute("aria-expanded") == "true"
    page.wait_for_function("() => document.querySelectorAll('#yz-results > li').length > 0")
    assert page.locator("#yz-results > li").first.is_visible()
    assert sheet.bounding_box()["height"] > collapsed + 100
    # the map is not resized by the sheet (it lies over the map)
    assert map_height(page) >= 0.6 * 740
    # the attribution stays on one line
    attribution = page.locator(".leaflet-control-attribution").bounding_box()
    assert attribution["height"] <= 20
    tab.screenshot("phone-360x740-sheet-open")


def test_popup_fits_inside_the_phone_viewport(open_page):
    tab = open_page(viewport=(360, 740), path=SHARED)
    page = tab.page
    page.wait_for_selector(".leaflet-popup")
    page.wait_for_timeout(800)
    box = page.locator(".leaflet-popup").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 360
    assert box["y"] + box["height"] <= 740
    assert page.locator(".leaflet-popup .yz-nav").first.is_visible()
    tab.screenshot("phone-360x740-popup")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_shared_station_opens_inside_the_visible_map(open_page, size):
    tab = open_page(viewport=size, path=SHARED)
    page = tab.page
    page.wait_for_selector(".yz-marker[data-station-id='DEMO-LZ-LA-002']")
    page.wait_for_timeout(1000)
    marker = page.locator(".yz-marker[data-station-id='DEMO-LZ-LA-002']").bounding_box()
    m = page.locator("#yz-map").bounding_box()
    cx, cy = marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] / 2
    assert m["x"] <= cx <= m["x"] + m["width"]
    assert m["y"] <= cy <= m["y"] + m["height"]
    assert 0 <= cy <= size[1]


def test_first_view_contains_the_stations_it_counts(open_page):
    tab = open_page(viewport=(360, 740))
    page = tab.page
    page.wait_for_function("() => document.getElementById('yz-count').dataset.count !== ''")
    page.wait_for_timeout(800)
    bounds = page.evaluate("() => window.YizhanLocator.app.cfg.bounds")
    if bounds:  # the registry's bounds (Guangxi for the demo) lie in the first view
        w, s, e, n = bounds
        assert map_bounds_contain(page, (s + n) / 2, (w + e) / 2)
    # every marker/bubble drawn lies inside the map
    m = page.locator("#yz-map").bounding_box()
    boxes = page.locator(".leaflet-marker-pane .leaflet-marker-icon").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect())"
        ".map(r => [r.x + r.width / 2, r.y + r.height / 2])"
    )
    inside = [
        b
        for b in boxes
        if m["x"] <= b[0] <= m["x"] + m["width"] and m["y"] <= b[1] <= m["y"] + m["height"]
    ]
    assert inside, "no station drawn inside the first view"


def test_embed_region_at_360x480_shows_the_region(open_page):
    tab = open_page(viewport=(360, 480), path="/embed?region=450200", wait_for_markers=False)
    page = tab.page
    page.wait_for_function("() => window.YizhanLocator && window.YizhanLocator.app")
    page.wait_for_timeout(1200)
    b = page.evaluate("() => window.YizhanLocator.app.cfg.regionBounds")
    assert b and len(b) == 4
    w, s, e, n = b
    for lat, lon in ((s, w), (n, e), ((s + n) / 2, (w + e) / 2)):
        assert map_bounds_contain(page, lat, lon), (lat, lon)
    tab.screenshot(f"embed-360x480-region-{SHOT}")


def test_nearest_results_are_numbered_on_map_and_list(open_page):
    tab = open_page(viewport=(390, 844), geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    page.locator("#yz-locate").click()
    page.wait_for_function("() => document.querySelector('#yz-results > li[data-minutes]')")
    page.wait_for_timeout(800)
    ranks = page.locator("#yz-results > li").evaluate_all(
        "els => els.map(e => [e.dataset.stationId, e.querySelector('.yz-result-rank').textContent])"
    )
    assert ranks and [r for _, r in ranks] == [str(i + 1) for i in range(len(ranks))]
    numbered = page.locator(".yz-marker[data-rank]").evaluate_all(
        "els => els.map(e => [e.dataset.stationId, e.dataset.rank, e.textContent])"
    )
    assert numbered, "no numbered marker on the map"
    by_id = dict(ranks)
    for sid, rank, text in numbered:
        assert by_id[sid] == rank == text
    tab.screenshot("phone-390x844-nearest-numbered")


def test_legend_explains_kinds_and_clusters_and_collapses_on_phones(open_page):
    tab = open_page(viewport=(360, 740))
    page = tab.page
    legend = page.locator("#yz-legend")
    page.wait_for_function(
        "() => document.querySelectorAll('#yz-legend .yz-legend-kind').length > 0"
    )
    assert legend.get_attribute("open") is None  # collapsed on phones
    legend.locator("summary").click()
    assert legend.get_attribute("open") is not None
    assert legend.locator(".yz-legend-kind").first.is_visible()
    assert legend.locator(".yz-legend-cluster").is_visible()
    assert "爱心驿站" in legend.inner_text() or legend.locator(".yz-legend-kind").count() >= 3
    tab = open_page(viewport=(1280, 800))
    tab.page.wait_for_function(
        "() => document.querySelectorAll('#yz-legend .yz-legend-kind').length > 0"
    )
    assert tab.page.locator("#yz-legend").get_attribute("open") is not None


def test_offline_basemap_stops_at_a_useful_zoom_and_says_so(open_page):
    tab = open_page(viewport=(390, 844), path=SHARED)
    page = tab.page
    assert page.evaluate("() => window.YizhanLocator.app.map.getMaxZoom()") <= 12
    assert page.evaluate("() => window.YizhanLocator.app.map.getZoom()") <= 12
    note = page.locator("#yz-basemap-note")
    assert note.is_visible()
    assert note.inner_text() == "街道级底图请配置天地图或高德（见 README）"
    page.locator("#yz-lang").click()
    assert note.inner_text() == "For street-level maps configure Tianditu or Amap (see README)"
