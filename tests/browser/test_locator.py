"""The public locator page in a real browser against a real ``yizhan serve``.

What a worker on a phone does: open the map, press "使用我的位置" (or search an address, or
pick a point), read the nearest stations by travel time, filter, open one, share the view.
Plus what must never happen: a blank map on an error, a horizontal scroll bar at 360 px,
script injection through a station name, loading every station of a 200,000-station registry.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.request
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from support import BACKEND_PARAMS, module_server

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
PLACES = {
    "Liuzhou": (109.4155, 24.3255),
    "Baise": (106.6183, 23.9020),
    "Dingbian": (107.6012, 37.5940),
}


def api(server, path: str, **params) -> dict | list:
    url = server.url + "/api" + path + ("?" + urlencode(params, doseq=True) if params else "")
    with urllib.request.urlopen(url, timeout=30) as resp:
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


def wait_for_results(page, n: int | None = None) -> None:
    if n is None:
        page.wait_for_function("() => document.querySelectorAll('#yz-results > li').length > 0")
    else:
        page.wait_for_function(
            "(n) => document.querySelectorAll('#yz-results > li').length === n", arg=n
        )


def wait_for_nearest(page) -> None:
    page.wait_for_function(
        "() => document.querySelector('#yz-results > li[data-minutes]') !== null"
    )


def list_ids(page) -> list[str]:
    return page.locator(RESULTS).evaluate_all("els => els.map(e => e.dataset.stationId)")


def view_count(page) -> int:
    page.wait_for_function("() => document.getElementById('yz-count').dataset.count !== ''")
    return int(page.locator("#yz-count").get_attribute("data-count"))


def test_format_distance_matches_the_page(open_page):
    tab = open_page(wait_for_markers=False)
    for m in (0, 12.4, 849.6, 999.4, 999.5, 1000, 1034.6, 3249.9, 3250, 99_949, 99_950, 123_456):
        assert tab.page.evaluate("(m) => window.YizhanLocator.formatDistance(m)", m) == (
            format_distance(m)
        ), m


def test_page_loads_offline_with_outlines_list_and_demo_banner(open_page, server):
    tab = open_page()
    page = tab.page
    banner = page.locator("#yz-demo-banner")
    assert banner.is_visible()
    assert banner.inner_text().replace("\n", "").replace(" ", "") == DEMO_TEXT
    assert "演示数据" in page.title()
    assert "演示数据" in page.locator(".leaflet-control-attribution").inner_text()
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    # the offline basemap: the bundled county outlines, with prefecture/province labels
    page.wait_for_selector(".leaflet-yz-outlines-pane path")
    assert page.locator(".leaflet-yz-labels-pane .yz-label").count() > 0

    # the view's count matches the API for the same bbox; the list shows the view's stations
    n = view_count(page)
    assert n > 0
    assert page.locator("#yz-count").inner_text() == f"地图范围内 {n} 个站点"
    wait_for_results(page)
    assert page.locator("#yz-results-title").inner_text() == "地图范围内的站点"
    assert page.locator(RESULTS).count() == min(20, n)

    # kinds come from the API into the labelled select
    codes = [k["code"] for k in api(server, "/kinds")]
    page.wait_for_function(
        "(n) => document.querySelectorAll('#yz-kind option').length === n", arg=len(codes) + 1
    )
    assert page.locator("label[for=yz-kind]").inner_text() == "类型"
    assert not page.locator("#yz-error").is_visible()
    assert tab.foreign == []  # no CDN, no tiles: everything came from the server itself
    tab.screenshot("locator-desktop")


def test_use_my_location_orders_by_travel_time_and_names_the_model(open_page, server):
    tab = open_page(
        viewport=PHONE, geolocation=LIUZHOU, permissions=["geolocation"], path="/?mode=walk"
    )
    page = tab.page
    page.get_by_role("button", name="使用我的位置").click()
    wait_for_nearest(page)
    expected = api(server, "/nearest", lon="109.410000", lat="24.330000", k=20, mode="walk")
    assert list_ids(page) == [str(f["properties"]["id"]) for f in expected["features"]]
    minutes = [
        float(x)
        for x in page.locator(RESULTS).evaluate_all("els => els.map(e => e.dataset.minutes)")
    ]
    assert minutes == sorted(minutes) and minutes[0] > 0
    first = page.locator(RESULTS).first
    travel = first.locator(".yz-result-travel").inner_text()
    assert travel == f"约 {round(minutes[0])} 分钟 · {expected['travel']['label_zh']}"
    assert "步行" in travel and "直线估算" in travel
    assert page.locator("#yz-results-title").inner_text() == "离您最近的站点"
    assert page.locator("path.yz-point").count() == 1, "the user's position is marked"

    # a faster mode re-orders/re-times the list
    page.locator("#yz-mode").select_option("car")
    page.wait_for_function(
        "() => document.querySelector('#yz-results .yz-result-travel').textContent.includes('驾车')"
    )
    tab.screenshot("locator-phone-nearest")


def test_geolocation_denied_shows_a_message(open_page):
    tab = open_page(viewport=PHONE, geolocation=LIUZHOU, permissions=[])
    page = tab.page
    page.locator("#yz-locate").click()
    error = page.locator("#yz-error")
    error.wait_for(state="visible")
    assert "定位权限被拒绝" in error.inner_text()
    assert "在地图上点选" in error.inner_text()
    assert page.locator(MARKERS).count() > 0, "the map stays usable"
    # A map load that finishes afterwards (here: a pan) must not hide the message: it clears
    # only a message of its own (a failed load). This raced before.
    # (far enough that the list and new cluster tiles must be fetched, not read from cache)
    with page.expect_response(lambda r: "/api/stations" in r.url):
        page.evaluate("window.YizhanLocator.app.map.panBy([-1200, 0], {animate: false})")
    page.wait_for_timeout(300)
    assert error.is_visible() and "定位权限被拒绝" in error.inner_text()
    tab.screenshot("locator-phone-denied")


def test_panning_past_the_antimeridian_asks_only_valid_views(open_page):
    """A far pan east (the national view on a phone is zoom 4) stops at the world's edge:
    every request carries longitudes within ±180°, so no "invalid value" error appears."""
    tab = open_page(viewport=PHONE)
    page = tab.page
    bad: list[str] = []
    page.on(
        "response", lambda r: bad.append(r.url) if "/api/" in r.url and r.status >= 400 else None
    )
    page.evaluate("window.YizhanLocator.app.map.setView([30, 170], 4, {animate: false})")
    page.evaluate("window.YizhanLocator.app.map.panBy([3000, 0], {animate: false})")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.YizhanLocator.app.map.getBounds().getEast()") <= 180.0001
    assert not bad, bad
    assert not page.locator("#yz-error").is_visible()


def test_filters_kind_service_open_now_reach_the_api(open_page, server):
    tab = open_page(geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/" in r.url else None)
    before = view_count(page)

    page.locator("#yz-kind").select_option("legal_aid")
    page.wait_for_function(
        "(n) => document.getElementById('yz-count').dataset.count !== String(n)", arg=before
    )
    after = view_count(page)
    assert 0 < after < before
    clusters = [u for u in requests if "/api/clusters" in u]
    assert clusters and parse_qs(urlsplit(clusters[-1]).query)["kind"] == ["legal_aid"]
    wait_for_results(page)
    page.wait_for_function(  # the list's answer may arrive after the map's count
        "() => [...document.querySelectorAll('#yz-results .yz-result-kind')]"
        ".every(e => e.textContent === '法律援助服务站')",
        timeout=5000,
    )
    kinds = set(page.locator(f"{RESULTS} .yz-result-kind").all_inner_texts())
    assert kinds == {"法律援助服务站"}

    # service: the checkbox list comes from /api/services
    page.locator("#yz-services-box summary").click()
    page.locator("#yz-services input[value=legal_advice]").check()
    page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".some(e => e.name.includes('service=legal_advice'))"
    )
    # open now
    page.locator("#yz-open-now").check()
    with page.expect_response(lambda r: "/api/nearest" in r.url):
        page.locator("#yz-locate").click()
    page.wait_for_function(
        "() => /找到|附近没有/.test(document.getElementById('yz-status-text').textContent)"
    )
    nearest = [u for u in requests if "/api/nearest" in u][-1]
    q = parse_qs(urlsplit(nearest).query)
    assert (
        q["kind"] == ["legal_aid"] and q["service"] == ["legal_advice"] and q["open_now"] == ["1"]
    )
    expected = api(
        server,
        "/nearest",
        lon="109.410000",
        lat="24.330000",
        k=20,
        mode="walk",
        kind="legal_aid",
        service="legal_advice",
        open_now=1,
    )["features"]
    assert list_ids(page) == [str(f["properties"]["id"]) for f in expected]
    if not expected:
        assert "附近没有符合条件的站点" in page.locator("#yz-results-note").inner_text()


def test_address_search_finds_stations_nearby(open_page, server):
    tab = open_page(viewport=PHONE)
    page = tab.page
    page.locator("#yz-q").fill("广西柳州市鱼峰区")
    page.locator("#yz-search-go").click()
    wait_for_nearest(page)
    geo = api(server, "/geocode", q="广西柳州市鱼峰区")
    point = page.evaluate("window.YizhanLocator.app.point")
    assert point["lon"] == pytest.approx(geo["lon"]) and point["lat"] == pytest.approx(geo["lat"])
    assert page.locator("#yz-results-title").inner_text() == "离搜索地点最近的站点"
    note = page.locator("#yz-results-note").inner_text()
    assert "位置为近似" in note or "街道级" in note
    first = page.locator(RESULTS).first
    assert float(first.get_attribute("data-distance-m")) < 20_000, "a station near Yufeng"

    # an address the gazetteer does not know: a clear message, the list unchanged
    page.locator("#yz-q").fill("火星市不存在区")
    page.locator("#yz-search-go").click()
    page.locator("#yz-error").wait_for(state="visible")
    assert "没有找到这个地址" in page.locator("#yz-error").inner_text()


def test_english_switch(open_page):
    tab = open_page()
    page = tab.page
    page.locator("#yz-lang").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#yz-locate [data-i18n=locate]").inner_text() == "Use my location"
    assert page.locator("#yz-results-title").inner_text() == "Stations in the map view"
    page.wait_for_function(
        "() => document.querySelector('#yz-kind option[value=legal_aid]').textContent"
        " === 'Legal-aid post'"
    )
    assert "lang=en" in page.url
    wait_for_results(page)
    page.locator(RESULTS).first.get_by_role("button").click()
    page.locator(".leaflet-popup .yz-details").wait_for()
    assert page.locator(".leaflet-popup .yz-details").inner_text() == "Details and navigation"
    page.locator("#yz-lang").click()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "lang=en" not in page.url
    # ?lang=en opens in English
    page.goto(tab.base + "/?lang=en")
    page.wait_for_selector(MARKERS)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#yz-count").inner_text().endswith("in view")


@pytest.mark.slow
def test_share_link_restores_view_filters_and_station(open_page, browser):
    tab = open_page()
    page = tab.page
    page.evaluate("window.YizhanLocator.app.map.setView([24.33, 109.41], 13, {animate: false})")
    page.locator("#yz-kind").select_option("rest_stop")
    page.locator("#yz-open-now").check()
    wait_for_results(page)
    page.locator(RESULTS).first.get_by_role("button").click()
    page.locator(".leaflet-popup").wait_for()
    chosen = page.locator(RESULTS).first.get_attribute("data-station-id")
    page.wait_for_timeout(400)  # the debounced moveend updates the URL
    page.locator("#yz-share").click()
    url = page.locator("#yz-share-url").input_value()
    q = parse_qs(urlsplit(url).query)
    assert q["kind"] == ["rest_stop"] and q["open_now"] == ["1"] and q["station"] == [chosen]

    fresh = open_page(path=urlsplit(url).path + "?" + urlsplit(url).query).page
    fresh.locator(".leaflet-popup").wait_for()
    app = "window.YizhanLocator.app"
    assert fresh.evaluate(f"{app}.filter.kinds") == ["rest_stop"]
    assert fresh.evaluate(f"{app}.filter.openNow") is True
    assert fresh.locator("#yz-kind").input_value() == "rest_stop"
    assert fresh.locator("#yz-open-now").is_checked()
    assert fresh.evaluate(f"{app}.selectedId") == chosen
    centre = fresh.evaluate(f"{app}.map.getCenter()")
    assert centre["lat"] == pytest.approx(float(q["lat"][0]), abs=0.01)
    assert centre["lng"] == pytest.approx(float(q["lon"][0]), abs=0.01)


def test_phone_width_has_no_horizontal_scroll(open_page):
    tab = open_page(viewport=PHONE, geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page

    def overflow() -> int:
        return page.evaluate(
            """() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)
                     - document.documentElement.clientWidth"""
        )

    assert overflow() <= 0
    tab.screenshot("locator-phone-360")
    for sel in ("#yz-q", "#yz-locate", "#yz-pick", "#yz-kind", "#yz-mode", "#yz-map", "#yz-lang"):
        box = page.locator(sel).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0] + 0.5, sel
    assert page.locator("#yz-locate").bounding_box()["height"] >= 44
    page.locator("#yz-locate").click()
    wait_for_nearest(page)
    page.locator(RESULTS).first.get_by_role("button").click()
    page.locator(".leaflet-popup").wait_for()
    assert overflow() <= 0
    assert page.locator("#yz-map").bounding_box()["height"] >= 170, "the map must stay usable"
    tab.screenshot("locator-phone-popup")


@pytest.mark.slow
def test_keyboard_only_list_selects_and_highlights_the_marker(open_page):
    tab = open_page(geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    page.evaluate("window.YizhanLocator.app.map.setView([24.33, 109.41], 14, {animate: false})")
    page.wait_for_timeout(600)
    wait_for_results(page)
    # Tab from the top of the page to the first list entry
    page.locator("body").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('#yz-results')"):
            break
    assert page.evaluate("!!document.activeElement.closest('#yz-results')"), "list reachable"
    item = page.evaluate("document.activeElement.closest('li').dataset.stationId")
    page.keyboard.press("Enter")
    page.locator(".leaflet-popup").wait_for()
    page.wait_for_selector(f".yz-marker--selected[data-station-id='{item}']")
    li = page.locator(f"{RESULTS}[data-station-id='{item}'] button")
    assert li.get_attribute("aria-current") == "true"
    assert item in page.locator("#yz-announce").inner_text() or page.locator(
        "#yz-announce"
    ).inner_text().startswith("已选择")
    # markers are focusable buttons; Enter on one selects it and highlights the list entry
    marker = page.locator(f"{MARKERS}.yz-marker").first
    assert marker.get_attribute("tabindex") == "0"
    marker.focus()
    page.keyboard.press("Enter")
    chosen = marker.get_attribute("data-station-id")
    page.wait_for_function("(id) => window.YizhanLocator.app.selectedId === id", arg=chosen)
    # pick mode from the keyboard: Enter on the focused map chooses its centre; Esc cancels
    page.locator("#yz-pick").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "yz-map"
    page.keyboard.press("Escape")
    assert page.locator("#yz-pick").get_attribute("aria-pressed") == "false"


def test_empty_view_shows_a_message_not_a_blank_map(open_page):
    tab = open_page(path="/?lat=45.0&lon=125.0&zoom=11", wait_for_markers=False)
    page = tab.page
    page.wait_for_function("() => document.getElementById('yz-count').dataset.count === '0'")
    page.wait_for_function(
        "() => document.getElementById('yz-results-note')"
        ".textContent.includes('没有符合条件的站点')"
    )
    assert "缩小地图" in page.locator("#yz-results-note").inner_text()
    tab.screenshot("locator-empty")


def test_api_error_is_shown_not_a_blank_map(open_page):
    tab = open_page(wait_for_markers=False)
    page = tab.page

    def fail(route):
        route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": {"code": "service_unavailable", "message": "down"}}),
        )

    page.route("**/api/clusters**", fail)  # tiles and bbox alike
    page.reload()
    error = page.locator("#yz-error")
    error.wait_for(state="visible")
    # the reason by the API's code, from the page's catalogue (never the server's message)
    assert error.inner_text().startswith("站点加载失败：服务器繁忙，请稍后再试")
    assert "down" not in error.inner_text()
    page.wait_for_selector(".leaflet-yz-outlines-pane path")  # the map still shows where it is
    tab.screenshot("locator-api-error")


def test_crs_js_matches_geo_crs(open_page):
    from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02

    page = open_page(wait_for_markers=False).page
    for name, (lon, lat) in PLACES.items():
        glon, glat = wgs84_to_gcj02(lon, lat)
        js = page.evaluate("([x, y]) => window.YizhanCRS.wgs84ToGcj02(x, y)", [lon, lat])
        assert js == pytest.approx([glon, glat], abs=1e-9), name
        back = page.evaluate("([x, y]) => window.YizhanCRS.gcj02ToWgs84(x, y)", [glon, glat])
        assert back == pytest.approx(list(gcj02_to_wgs84(glon, glat)), abs=1e-9), name
        assert back == pytest.approx([lon, lat], abs=1e-8), name
    # outside China: unchanged (Taipei, Seoul)
    for lon, lat in ((121.56, 25.04), (126.98, 37.57)):
        assert page.evaluate("([x, y]) => window.YizhanCRS.wgs84ToGcj02(x, y)", [lon, lat]) == [
            lon,
            lat,
        ]


@pytest.mark.slow
def test_station_name_is_text_never_markup(open_page, server):
    """Runs late in this module: it adds a station through the real import path."""
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
    wait_for_nearest(page)
    first = page.locator(RESULTS).first
    assert first.locator(".yz-result-name").inner_text() == XSS_NAME
    first.get_by_role("button").click()
    popup = page.locator(".leaflet-popup")
    popup.wait_for()
    assert popup.locator(".yz-popup-name").inner_text() == XSS_NAME
    assert popup.locator("img").count() == 0
    assert page.locator("img[src='x']").count() == 0
    marker = page.locator(f".yz-marker[data-station-id='{found[0]['properties']['id']}']")
    assert marker.get_attribute("title").startswith(XSS_NAME)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    tab.screenshot("locator-xss")


# -- the Amap (GCJ-02) basemap ----------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def amap_server(request, tmp_path_factory):
    env = {"YIZHAN_BASEMAPS": "offline,amap"}
    with module_server(request, tmp_path_factory.mktemp("amap"), env) as srv:
        yield srv


def test_amap_basemap_draws_overlays_at_gcj02(browser, amap_server):
    from geo.crs import wgs84_to_gcj02

    context = browser.new_context(viewport={"width": 1000, "height": 700}, locale="zh-CN")
    page = context.new_page()
    tiles: list[str] = []

    def route(r):
        if r.request.url.startswith(amap_server.url):
            r.continue_()
        else:
            tiles.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    try:
        page.goto(amap_server.url + "/?lat=24.33&lon=109.41&zoom=15&basemap=amap")
        page.wait_for_selector(".yz-marker")
        assert page.locator("#yz-map").get_attribute("data-crs") == "gcj02"
        assert tiles and all("is.autonavi.com/appmaptile" in u for u in tiles)
        marker = page.locator(".yz-marker").first
        sid = marker.get_attribute("data-station-id")
        st = api(amap_server, f"/stations/{sid}")
        lon, lat = st["geometry"]["coordinates"]
        glon, glat = wgs84_to_gcj02(lon, lat)
        expected = page.evaluate(
            "([lat, lon]) => window.YizhanLocator.app.map.latLngToContainerPoint([lat, lon])",
            [glat, glon],
        )
        box = marker.bounding_box()
        mapbox = page.locator("#yz-map").bounding_box()
        cx = box["x"] + box["width"] / 2 - mapbox["x"]
        cy = box["y"] + box["height"] / 2 - mapbox["y"]
        assert cx == pytest.approx(expected["x"], abs=1.5) and cy == pytest.approx(
            expected["y"], abs=1.5
        )
        # at zoom 15 the GCJ-02 shift (~550 m) is dozens of pixels: WGS-84 would be far off
        wgs = page.evaluate(
            "([lat, lon]) => window.YizhanLocator.app.map.latLngToContainerPoint([lat, lon])",
            [lat, lon],
        )
        assert abs(wgs["x"] - cx) + abs(wgs["y"] - cy) > 20
        # a click on the map is converted back to WGS-84 before querying the API
        page.locator("#yz-pick").click()
        clicked = page.evaluate(
            "([x, y]) => window.YizhanLocator.app.map.containerPointToLatLng([x, y])", [500, 350]
        )
        page.mouse.click(mapbox["x"] + 500, mapbox["y"] + 350)
        page.wait_for_function("() => window.YizhanLocator.app.point !== null")
        point = page.evaluate("window.YizhanLocator.app.point")
        back = wgs84_to_gcj02(point["lon"], point["lat"])
        # within a pixel or two (the mouse lands on whole pixels; ~4e-5 deg per px here)
        assert back[0] == pytest.approx(clicked["lng"], abs=1e-4)
        assert back[1] == pytest.approx(clicked["lat"], abs=1e-4)
        page.screenshot(
            path=str(Path(__file__).resolve().parent.parent / "artifacts" / "locator-amap.png")
        )
    finally:
        context.close()


# -- 200,000 stations ----------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def big_server(request, tmp_path_factory):
    """A server over 200,000 synthetic stations (seeded), saved through the repository."""
    from geo.models import KINDS, Station
    from geo.store import StationRepository

    tmp = tmp_path_factory.mktemp("big")
    # no demo registry: the stations below only
    with module_server(request, tmp, setup=(), start=False) as srv:
        repo = StationRepository.from_url(srv.db_url)
        repo.init_schema()
        rng = random.Random(42)
        kinds = sorted(KINDS)
        repo.save(
            Station(
                id=f"syn{i:06d}",
                name=f"合成站点 {i}",
                kind=rng.choice(kinds),
                lon=rng.uniform(104.5, 112.0),
                lat=rng.uniform(21.5, 26.0),
                hours="每天 08:00-20:00",
                demo=True,
            )
            for i in range(200_000)
        )
        repo.engine.dispose()
        srv.start()
        yield srv


def test_200k_stations_load_per_view_with_server_clusters(browser, big_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    api_calls: list[str] = []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/" in r.url else None)
    try:
        t0 = time.monotonic()
        page.goto(big_server.url + "/")
        page.wait_for_selector(".yz-bubble", timeout=60_000)
        first_paint_s = time.monotonic() - t0
        total = int(page.locator("#yz-count").get_attribute("data-count"))
        assert total >= 150_000
        counts = page.locator(".yz-bubble").evaluate_all(
            "els => els.map(e => parseInt(e.dataset.count, 10))"
        )
        assert sum(counts) == total, "the bubbles account for every station in the view"
        dom = page.locator(MARKERS).count()
        assert dom < 600, f"{dom} markers in the DOM"

        # only bounded requests: clusters of the view, a page of the list
        for url in api_calls:
            path, q = urlsplit(url).path, parse_qs(urlsplit(url).query)
            if path in ("/api/clusters", "/api/stations"):
                assert "bbox" in q, url
            if path == "/api/stations":
                assert int(q["limit"][0]) <= 20
        assert page.locator(RESULTS).count() == 20

        # zoom in and pan: new cluster requests, DOM stays bounded
        before = len([u for u in api_calls if "/api/clusters" in u])
        page.evaluate("window.YizhanLocator.app.map.setView([24.33, 109.41], 12, {animate: false})")
        page.wait_for_function(
            "(n) => performance.getEntriesByType('resource')"
            ".filter(e => e.name.includes('/api/clusters')).length > n",
            arg=before,
        )
        page.evaluate("window.YizhanLocator.app.map.panBy([600, 0], {animate: false})")
        page.wait_for_timeout(1500)
        after = [u for u in api_calls if "/api/clusters" in u]
        assert len(after) >= before + 2
        zooms = {  # tiles carry the zoom in the path (/api/clusters/z/x/y), bbox in the query
            urlsplit(u).path.split("/")[3]
            if urlsplit(u).path.count("/") == 5
            else parse_qs(urlsplit(u).query)["zoom"][0]
            for u in after
        }
        assert "12" in zooms
        assert page.locator(MARKERS).count() < 600
        page.screenshot(
            path=str(Path(__file__).resolve().parent.parent / "artifacts" / "locator-200k.png")
        )
        print(f"\n200k: first bubbles after {first_paint_s:.1f} s, {dom} DOM markers")
    finally:
        context.close()


# -- messages in the page's language, honest results (issue 12 items 4 and 5) ----------------


def chrome_text(page) -> str:
    """What the page shows outside data (the shared scanner, support.VISIBLE_UI_TEXT_JS)."""
    from support import VISIBLE_UI_TEXT_JS

    return page.evaluate(VISIBLE_UI_TEXT_JS)


def assert_one_language(page, lang: str) -> None:
    """No other-language text outside data: the product marks data translate="no", so the
    test passes no list of station names, addresses or place names."""
    from support import other_language_text

    found = other_language_text(chrome_text(page), lang)
    assert found == [], f"{lang} page shows other-language text: {found}"


def test_other_language_text_helper_flags_both_ways():
    from support import other_language_text

    assert other_language_text("没有找到这个地址：offline: no known place name", "zh") == [
        "offline",
        "no known place name",
    ]
    assert other_language_text("地图范围内 24 个站点 · English · DEMO-LZ-LA-002 · 3 km", "zh") == []
    assert other_language_text("Address not found：try again。", "en") == ["：", "。"]
    assert other_language_text("Found “柳州市” (county)", "en", ["柳州市"]) == ["“", "”"]
    assert other_language_text("Only 柳州市 was recognised · 中文", "en", ["柳州市"]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_locator_speaks_one_language(open_page, server, lang):
    """Search success, failure, far away, partial, geolocation denied, nearest: one language."""
    path = "/?lang=en" if lang == "en" else "/"
    tab = open_page(viewport=PHONE, path=path)
    page = tab.page
    assert_one_language(page, lang)

    # search success
    page.locator("#yz-q").fill("广西柳州市鱼峰区")
    page.locator("#yz-search-go").click()
    wait_for_nearest(page)
    assert_one_language(page, lang)

    # search failure: the reason in the page language, the previous results gone
    page.locator("#yz-q").fill("xyz路1号")
    page.locator("#yz-search-go").click()
    error = page.locator("#yz-error")
    error.wait_for(state="visible")
    text = error.inner_text()
    assert "offline" not in text and "at the start of the address" not in text  # the API's
    reason = "地址开头没有可识别的地名" if lang == "zh" else "no known place name at the start;"
    assert reason in text
    assert page.locator("#yz-results > li[data-minutes]").count() == 0, "old results cleared"
    assert page.locator("path.yz-point").count() == 0, "the old point is gone"
    assert page.evaluate("window.YizhanLocator.app.point") is None
    assert_one_language(page, lang)
    tab.screenshot(f"locator-{lang}-search-failed")

    # a place far from every station: the distance, no travel time, no station serves it
    page.locator("#yz-q").fill("北京市朝阳区")
    page.locator("#yz-search-go").click()
    wait_for_nearest(page)
    far = api(server, "/geocode", q="北京市朝阳区")
    nearest = api(server, "/nearest", lon=f"{far['lon']:.6f}", lat=f"{far['lat']:.6f}", k=1)
    assert nearest["served"] is False
    km = format_distance(nearest["features"][0]["properties"]["distance_m"])
    if lang == "zh":
        expected = f"最近的站点在 {km}外，这里没有站点提供服务"
    else:
        km = km.replace(" 公里", " km").replace(" 米", " m")
        expected = f"The nearest station is {km} away; no station serves this place"
    page.wait_for_function(
        "(s) => document.getElementById('yz-status-text').textContent.includes(s)", arg=expected
    )
    assert page.locator("#yz-results .yz-result-travel").count() == 0, "no walk time"
    assert page.locator("#yz-results .yz-result-distance").count() > 0, "the distance only"
    assert_one_language(page, lang)
    tab.screenshot(f"locator-{lang}-far-away")

    # a partial geocode: only the prefecture was recognised, and the page says so
    page.locator("#yz-q").fill("柳州火车站")
    page.locator("#yz-search-go").click()
    page.wait_for_function(
        "() => (document.getElementById('yz-status-text').textContent || '').includes('柳州市')"
    )
    status = page.locator("#yz-status-text").inner_text()
    if lang == "zh":
        assert "只识别到“柳州市”" in status and "已定位到" not in status
    else:
        assert "Only 柳州市 was recognised" in status and "Found" not in status
    assert_one_language(page, lang)

    # nearest results: open the first one's popup
    wait_for_nearest(page)
    page.locator(RESULTS).first.get_by_role("button").click()
    page.locator(".leaflet-popup .yz-details").wait_for()
    assert_one_language(page, lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_geolocation_denied_and_nearest_in_one_language(open_page, lang):
    path = "/?lang=en" if lang == "en" else "/"
    tab = open_page(viewport=PHONE, geolocation=LIUZHOU, permissions=[], path=path)
    page = tab.page
    page.locator("#yz-locate").click()
    page.locator("#yz-error").wait_for(state="visible")
    assert_one_language(page, lang)
    tab.context.grant_permissions(["geolocation"])
    page.locator("#yz-locate").click()
    wait_for_nearest(page)
    assert_one_language(page, lang)
    # the status count is the list's
    assert view_count(page) == page.locator(RESULTS).count()


@pytest.mark.parametrize("viewport", [(390, 844), (1280, 800)])
def test_status_count_equals_the_list(open_page, server, viewport):
    """The count ("24 个站点") is the number of stations the list holds for the same view."""
    tab = open_page(
        viewport=viewport, path="/?lat=24.32274&lon=109.44479&zoom=14&station=DEMO-LZ-LA-002"
    )
    page = tab.page
    wait_for_results(page)
    page.wait_for_timeout(800)  # the view and the list have both answered
    bbox = page.evaluate(
        "(() => { const b = window.YizhanLocator.app.map.getBounds(); return [b.getWest(), "
        "b.getSouth(), b.getEast(), b.getNorth()].map(v => +v.toFixed(6)).join(','); })()"
    )
    total = api(server, "/stations", bbox=bbox, limit=1)["numberMatched"]
    items = page.locator(RESULTS).count()
    assert view_count(page) == total
    assert items == min(total, 20)
    pager = page.locator("#yz-page-text")
    if total > 20:
        assert pager.inner_text().endswith(str(total)) or str(total) in pager.inner_text()


def test_default_travel_mode_is_the_servers(open_page, server):
    """The page starts in the server's mode (YIZHAN_DEFAULT_MODE, e-bike by default)."""
    tab = open_page(geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    assert page.locator("#yz-mode").input_value() == "ebike"
    page.locator("#yz-locate").click()
    wait_for_nearest(page)
    assert "电动" in page.locator("#yz-results .yz-result-travel").first.inner_text()
    # a link's ?mode= wins, and a share link keeps a mode that is not the default
    page.goto(tab.base + "/?mode=walk")
    page.wait_for_selector(MARKERS)
    assert page.locator("#yz-mode").input_value() == "walk"
    assert "mode=walk" in page.evaluate("window.YizhanLocator.app.shareUrl()")


def search(page, text: str) -> None:
    page.locator("#yz-q").fill(text)
    page.locator("#yz-search-go").click()


def test_far_away_place_gets_the_distance_not_a_walk_time(open_page, server):
    """北京市朝阳区 with the Guangxi demo: "the nearest station is 807 km away", no hours."""
    tab = open_page(viewport=(390, 844), path="/?mode=walk")
    page = tab.page
    search(page, "北京市朝阳区")
    wait_for_nearest(page)
    far = api(server, "/geocode", q="北京市朝阳区")
    near = api(server, "/nearest", lon=f"{far['lon']:.6f}", lat=f"{far['lat']:.6f}", k=20)
    km = format_distance(near["features"][0]["properties"]["distance_m"])
    page.wait_for_timeout(1500)  # the map has framed the answer and reloaded: still said
    status = page.locator("#yz-status-text").inner_text()
    assert f"最近的站点在 {km}外，这里没有站点提供服务" in status
    items = page.locator(RESULTS)
    assert items.count() == len(near["features"])
    assert page.locator("#yz-results .yz-result-travel").count() == 0
    assert "小时" not in page.locator("#yz-results").inner_text()
    tab.screenshot("locator-390x844-far-away")


def test_partial_geocode_says_only_the_city_was_recognised(open_page):
    tab = open_page(viewport=(390, 844))
    page = tab.page
    search(page, "柳州火车站")
    wait_for_nearest(page)
    page.wait_for_timeout(500)
    status = page.locator("#yz-status-text").inner_text()
    note = page.locator("#yz-results-note").inner_text()
    assert "只识别到“柳州市”" in status and "只识别到“柳州市”" in note
    assert "已定位到" not in status + note
