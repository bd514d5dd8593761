"""Demand signals sent by the real pages (issue 15 item 8), at 360×740 and 1280×800, zh-CN:
the locator asks ``/api/nearest`` with ``origin=locate`` / ``origin=search`` once per chosen
point (not again when the mode changes), and the station page's navigation link sends one
bodiless beacon that the server counts for that station."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing (run scripts/install_chromium.sh)", allow_module_level=True)

pytestmark = pytest.mark.browser

LIUZHOU = {"latitude": 24.33, "longitude": 109.41}
SIZES = [(360, 740), (1280, 800)]


def _nearest_origins(requests: list[str]) -> list[str | None]:
    out = []
    for url in requests:
        parts = urlsplit(url)
        if parts.path.endswith("/api/nearest"):
            out.append((parse_qs(parts.query).get("origin") or [None])[0])
    return out


@pytest.mark.parametrize("size", SIZES, ids=["phone", "desktop"])
def test_locator_sends_origin_once_per_point(open_page, size):
    tab = open_page(viewport=size, geolocation=LIUZHOU, permissions=["geolocation"])
    page = tab.page
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/api/nearest" in r.url else None)
    page.locator("#yz-locate").click()
    page.wait_for_selector("#yz-results > li[data-minutes]")
    page.locator("#yz-mode").select_option("car")
    page.wait_for_function("() => document.querySelectorAll('#yz-results > li').length > 0")
    page.wait_for_timeout(300)
    assert _nearest_origins(seen)[:1] == ["locate"]
    assert all(o is None for o in _nearest_origins(seen)[1:]), seen
    assert len(_nearest_origins(seen)) >= 2, "the mode change asks again, uncounted"
    seen.clear()
    page.locator("#yz-q").fill("广西柳州市鱼峰区")
    page.locator("#yz-search-go").click()
    page.wait_for_function(
        "() => document.querySelector('#yz-results-title').textContent.includes('搜索')"
    )
    assert _nearest_origins(seen) == ["search"]


def test_station_page_navigation_link_sends_one_beacon(open_page, server):
    tab = open_page(viewport=(360, 740), path="/stations/DEMO-LZ-LA-001", wait_for_markers=False)
    page = tab.page
    beacons: list[tuple[str, str]] = []
    page.on(
        "request",
        lambda r: beacons.append((r.method, r.url)) if "/signals/navigate/" in r.url else None,
    )
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if "/signals/navigate/" in r.url else None,
    )
    tab.context.route(
        "https://uri.amap.com/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>amap</p>"),
    )
    sid = page.locator("#yz-station").get_attribute("data-station-id")
    with tab.context.expect_page() as popup:
        page.locator("a.yz-navlink--amap").click()
    popup.value.wait_for_load_state()
    page.wait_for_timeout(500)
    assert beacons == [("POST", f"{server.url}/signals/navigate/{sid}")]
    assert statuses == [204]
