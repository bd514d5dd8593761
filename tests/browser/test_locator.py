"""The public locator page in a real browser against a real ``yizhan serve``.

What a worker on a phone does: open the map, see the stations, press "使用我的位置" (or pick a
point on the map), read the five nearest, open one. Plus what must never happen: a blank map
on an API error, a horizontal scroll bar at 360 px, script injection through a station name.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlencode

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} is missing (run scripts/install_chromium.sh); browser tests are skipped "
        "outside CI and fail in CI",
        allow_module_level=True,
    )

pytestmark = pytest.mark.browser

LIUZHOU = {"latitude": 24.33, "longitude": 109.41}
PHONE = (360, 740)
DEMO_TEXT = "演示数据：站点为示例，位置为近似，仅供参考"
XSS_NAME = "<img src=x onerror=window.__xss=1>"
MARKERS = ".leaflet-marker-pane .leaflet-marker-icon"
RESULTS = "#yz-results > li"


def api(server, path: str, **params) -> dict | list:
    url = server.url + "/api" + path + ("?" + urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def format_distance(m: float) -> str:
    """The page's formatting (locator.js formatDistance), with JS rounding (half up)."""
    metres = Decimal(m).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if metres < 1000:
        return f"{metres} 米"
    km = Decimal(m / 1000)
    if km < 100:
        return f"{km.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} 公里"
    return f"{km.quantize(Decimal(1), rounding=ROUND_HALF_UP)} 公里"


def stations_on_map(page) -> int:
    """Stations represented by the visible icons: cluster counts + single markers."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).reduce((n, el) =>
            n + (el.classList.contains('marker-cluster')
                 ? parseInt(el.textContent.trim(), 10) : 1), 0)""",
        MARKERS,
    )


def wait_for_results(page, n: int = 5) -> None:
    page.wait_for_function(
        "(n) => document.querySelectorAll('#yz-results > li').length === n", arg=n
    )


def test_format_distance_matches_the_page(open_page):
    tab = open_page(wait_for_markers=False)
    for m in (0, 12.4, 849.6, 999.4, 999.5, 1000, 1034.6, 3249.9, 3250, 99_949, 99_950, 123_456):
        assert tab.page.evaluate("(m) => window.YizhanLocator.formatDistance(m)", m) == (
            format_distance(m)
        ), m


def test_page_loads_with_clusters_outlines_and_demo_banner(open_page, server):
    tab = open_page()
    page = tab.page

    icons = page.locator(MARKERS)
    assert icons.count() > 0
    assert page.locator(".marker-cluster").count() > 0, "stations should be clustered"

    banner = page.locator("#yz-demo-banner")
    assert banner.is_visible()
    assert banner.inner_text().replace("\n", "").replace(" ", "") == DEMO_TEXT
    assert "演示数据" in page.title()
    assert "演示数据" in page.locator(".leaflet-control-attribution").inner_text()
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    # every station the API serves is on the map, and the count says so
    matched = api(server, "/stations", limit=1)["numberMatched"]
    page.wait_for_function(
        "(n) => document.getElementById('yz-count').dataset.count === String(n)", arg=matched
    )
    assert stations_on_map(page) <= matched
    assert page.locator("#yz-count").inner_text() == f"共 {matched} 个站点"

    # no tiles configured: the bundled county outlines are drawn as the base layer
    page.wait_for_selector(".leaflet-yz-outlines-pane path")
    assert page.locator(".leaflet-yz-outlines-pane path").count() > 0

    # kinds come from the API into the labelled select
    codes = [k["code"] for k in api(server, "/kinds")]
    options = page.locator("#yz-kind option")
    assert options.count() == len(codes) + 1
    assert page.locator("#yz-kind").get_attribute("aria-label")
    assert not page.locator("#yz-error").is_visible()

    # everything (scripts, styles, images, data) came from the server itself: no CDN
    assert tab.foreign == []
    tab.screenshot("locator-desktop")


def test_use_my_location_lists_the_five_nearest(open_page, server):
    tab = open_page(viewport=PHONE, geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    page.get_by_role("button", name="使用我的位置").click()
    wait_for_results(page)

    expected = api(server, "/nearest", lon=109.41, lat=24.33, k=5)["features"]
    items = page.locator(RESULTS)
    ids = [items.nth(i).get_attribute("data-station-id") for i in range(5)]
    assert ids == [str(f["properties"]["id"]) for f in expected]

    distances = [float(items.nth(i).get_attribute("data-distance-m")) for i in range(5)]
    assert distances == sorted(distances)
    first = expected[0]["properties"]
    assert distances[0] == pytest.approx(first["distance_m"])
    assert items.nth(0).locator(".yz-result-distance").inner_text() == format_distance(
        first["distance_m"]
    )
    assert items.nth(0).locator(".yz-result-name").inner_text() == first["name"]
    assert page.locator("#yz-results-title").inner_text() == "离您最近的站点"
    assert page.locator("path.yz-point").count() == 1, "the user's position is marked"

    # choosing an entry opens that station's popup on the map
    second = expected[1]["properties"]
    items.nth(1).get_by_role("button").click()
    popup = page.locator(".leaflet-popup")
    popup.wait_for()
    assert popup.locator(".yz-popup-name").inner_text() == second["name"]
    assert popup.locator(".yz-tag--kind").inner_text() == second["kind_label"]
    assert items.nth(1).get_by_role("button").get_attribute("aria-current") == "true"
    if second.get("phone"):
        assert popup.locator("a.yz-phone").get_attribute("href").startswith("tel:")
    tab.screenshot("locator-phone-nearest")


def test_geolocation_denied_shows_a_message(open_page):
    tab = open_page(viewport=PHONE, geolocation=LIUZHOU, permissions=[])
    page = tab.page
    page.locator("#yz-locate").click()
    error = page.locator("#yz-error")
    error.wait_for(state="visible")
    assert "定位权限被拒绝" in error.inner_text()
    assert "在地图上点选" in error.inner_text()
    assert page.locator(RESULTS).count() == 0
    assert page.locator(MARKERS).count() > 0, "the map stays usable"
    tab.screenshot("locator-phone-denied")


def test_pick_a_point_on_the_map(open_page, server):
    tab = open_page()
    page = tab.page
    pick = page.get_by_role("button", name="在地图上点选")
    pick.click()
    assert pick.get_attribute("aria-pressed") == "true"
    assert page.locator("#yz-pick-hint").is_visible()

    box = page.locator("#yz-map").bounding_box()
    # an empty spot well inside the map, clear of the zoom buttons
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.75)
    wait_for_results(page)
    assert pick.get_attribute("aria-pressed") == "false"
    assert page.locator("#yz-results-title").inner_text() == "离选定位置最近的站点"
    assert page.locator("path.yz-point").count() == 1

    point = page.evaluate("window.YizhanLocator.app.point")
    expected = api(server, "/nearest", lon=f"{point['lon']:.6f}", lat=f"{point['lat']:.6f}", k=5)[
        "features"
    ]
    ids = page.locator(RESULTS).evaluate_all("els => els.map(e => e.dataset.stationId)")
    assert ids == [str(f["properties"]["id"]) for f in expected]


def test_kind_filter_applies_to_markers_and_nearest(open_page, server):
    tab = open_page(geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    total = api(server, "/stations", limit=1)["numberMatched"]
    page.wait_for_function(
        "(n) => document.getElementById('yz-count').dataset.count === String(n)", arg=total
    )
    # the map opens on all stations, so every one is in a visible cluster or marker
    before = stations_on_map(page)

    kind = "legal_aid"
    label = next(k["zh"] for k in api(server, "/kinds") if k["code"] == kind)
    matched = api(server, "/stations", kind=kind, limit=1)["numberMatched"]
    assert 0 < matched < total
    page.locator("#yz-kind").select_option(kind)
    page.wait_for_function(
        "(n) => document.getElementById('yz-count').dataset.count === String(n)", arg=matched
    )
    after = stations_on_map(page)
    assert 0 < after < before
    assert after <= matched
    assert page.locator("#yz-count").inner_text() == f"{label}：{matched} 个站点"

    page.locator("#yz-locate").click()
    wait_for_results(page)
    kinds = page.locator(f"{RESULTS} .yz-result-kind").all_inner_texts()
    assert kinds == [label] * 5
    expected = api(server, "/nearest", lon=109.41, lat=24.33, k=5, kind=kind)["features"]
    ids = page.locator(RESULTS).evaluate_all("els => els.map(e => e.dataset.stationId)")
    assert ids == [str(f["properties"]["id"]) for f in expected]

    # back to all kinds: the markers come back
    page.locator("#yz-kind").select_option("")
    page.wait_for_function(
        "(n) => document.getElementById('yz-count').dataset.count === String(n)", arg=total
    )


def test_phone_width_has_no_horizontal_scroll(open_page):
    tab = open_page(viewport=PHONE, geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page

    def overflow() -> int:
        return page.evaluate(
            """() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)
                     - document.documentElement.clientWidth"""
        )

    assert overflow() <= 0
    tab.screenshot("locator-phone")
    for sel in ("#yz-locate", "#yz-pick", "#yz-kind", "#yz-map"):
        box = page.locator(sel).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0] + 0.5, sel
    # touch targets are finger-sized
    assert page.locator("#yz-locate").bounding_box()["height"] >= 44

    page.locator("#yz-locate").click()
    wait_for_results(page)
    page.locator(RESULTS).first.get_by_role("button").click()
    page.locator(".leaflet-popup").wait_for()
    assert overflow() <= 0
    map_box = page.locator("#yz-map").bounding_box()
    assert map_box["height"] >= 180, "the list must not squeeze the map away"
    tab.screenshot("locator-phone-popup")


def test_keyboard_only(open_page):
    tab = open_page(geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "yz-locate":
            break
    assert page.evaluate("document.activeElement.id") == "yz-locate"
    page.keyboard.press("Enter")
    wait_for_results(page)
    page.locator(RESULTS).first.get_by_role("button").focus()
    page.keyboard.press("Enter")
    page.locator(".leaflet-popup").wait_for()

    # pick mode from the keyboard: Enter on the focused map chooses its centre; Esc cancels
    page.locator("#yz-pick").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "yz-map"
    page.keyboard.press("Escape")
    assert page.locator("#yz-pick").get_attribute("aria-pressed") == "false"
    page.locator("#yz-pick").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('yz-results-title').textContent === '离选定位置最近的站点'"
    )


def test_api_error_is_shown_not_a_blank_map(open_page):
    tab = open_page(wait_for_markers=False)
    page = tab.page

    def fail(route):
        route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": {"code": "unavailable", "message": "数据库维护中"}}),
        )

    page.route("**/api/stations?*", fail)
    page.reload()
    error = page.locator("#yz-error")
    error.wait_for(state="visible")
    assert "站点加载失败" in error.inner_text()
    assert "数据库维护中" in error.inner_text()
    page.wait_for_selector(".leaflet-yz-outlines-pane path")  # the map still shows where it is
    tab.screenshot("locator-api-error")


def test_station_name_is_text_never_markup(open_page, server):
    """Runs last in this module: it adds a station through the real import path."""
    csv = server.tmp / "xss.csv"
    csv.write_text(f"名称,类型,经度,纬度\n{XSS_NAME},工会爱心驿站,107.60,37.59\n", encoding="utf-8")
    server.cli("import", str(csv))
    deadline = time.monotonic() + 15
    while True:  # the server's index notices the other process's write within a second or so
        found = api(server, "/nearest", lon=107.6, lat=37.59, k=1)["features"]
        if found and found[0]["properties"]["name"] == XSS_NAME:
            break
        assert time.monotonic() < deadline, "imported station never appeared in the API"
        time.sleep(0.3)

    tab = open_page(
        geolocation={"latitude": 37.59, "longitude": 107.6}, permissions=["geolocation"]
    )
    page = tab.page
    page.locator("#yz-locate").click()
    wait_for_results(page)
    first = page.locator(RESULTS).first
    assert first.locator(".yz-result-name").inner_text() == XSS_NAME
    first.get_by_role("button").click()
    popup = page.locator(".leaflet-popup")
    popup.wait_for()
    assert popup.locator(".yz-popup-name").inner_text() == XSS_NAME
    assert popup.locator("img").count() == 0
    assert page.locator("img[src='x']").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    tab.screenshot("locator-xss")
