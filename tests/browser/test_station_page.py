"""A station's page in a real browser: open it from the locator, follow a navigation link."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from geo.navigation import navigation_links

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing (run scripts/install_chromium.sh)", allow_module_level=True)

pytestmark = pytest.mark.browser

LIUZHOU = {"latitude": 24.33, "longitude": 109.41}


def test_open_a_station_from_the_list_and_follow_the_amap_link(open_page):
    tab = open_page(viewport=(360, 740), geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    page.locator("#yz-locate").click()
    page.wait_for_selector("#yz-results > li[data-minutes]")
    first = page.locator("#yz-results > li").first
    sid = first.get_attribute("data-station-id")
    name = first.locator(".yz-result-name").inner_text()
    first.get_by_role("button").click()
    page.locator(".leaflet-popup .yz-details").click()
    page.wait_for_url(f"**/stations/{sid}")
    assert page.locator("#yz-station-name").inner_text() == name
    assert page.title().endswith("· 驿站") and name in page.title()
    page.wait_for_selector("#yz-station-map .yz-marker")
    if page.locator("#yz-phone").count():
        assert page.locator("#yz-phone").get_attribute("href").startswith("tel:")
    tab.screenshot("station-page-phone")

    # the navigation link leaves the loopback: intercept it and check what it carries
    opened: list[str] = []

    def amap(route):
        opened.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>amap</p>")

    tab.context.route("https://uri.amap.com/**", amap)
    station = page.evaluate("JSON.parse(document.getElementById('yz-station-config').textContent)")
    with tab.context.expect_page() as popup:
        page.locator("a.yz-navlink--amap").click()
    popup.value.wait_for_load_state()
    assert len(opened) == 1
    q = dict(parse_qsl(urlsplit(opened[0]).query))
    lon, lat = (float(v) for v in q["position"].split(","))
    assert lon == pytest.approx(station["lon"], abs=1e-6) and lat == pytest.approx(
        station["lat"], abs=1e-6
    ), "Amap takes lon,lat (WGS-84 with coordinate=wgs84)"
    assert q["coordinate"] == "wgs84" and q["name"] == name
    expected = navigation_links(station["lon"], station["lat"], name)[0].url
    assert dict(parse_qsl(urlsplit(expected).query))["position"] == q["position"]
    # the back link returns to the locator centred on the station, with it selected
    page.locator("#yz-back").click()
    page.wait_for_function(
        "(id) => window.YizhanLocator && window.YizhanLocator.app && "
        "window.YizhanLocator.app.selectedId === id",
        arg=sid,
    )


def test_station_page_renders_markup_as_text_and_404s(open_page, server):
    csv = server.tmp / "xss-page.csv"
    evil = "<script>window.__xss=1</script>站"
    csv.write_text(
        f"编号,名称,类型,经度,纬度\nxss-page,{evil},工会爱心驿站,109.40,24.31\n", encoding="utf-8"
    )
    server.cli("import", str(csv))
    tab = open_page(path="/stations/xss-page", wait_for_markers=False)
    page = tab.page
    assert page.locator("#yz-station-name").inner_text() == evil
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert evil in page.title()
    resp = page.goto(tab.base + "/stations/no-such-station")
    assert resp.status == 404
    assert "页面不存在" in page.locator("h1").inner_text()
    tab.screenshot("station-404")
