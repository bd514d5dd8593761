"""A station's page in a real browser: open it from the locator, follow a navigation link."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from geo.navigation import navigation_links
from support import ARTIFACTS

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


# -- issue 12 item 6: phones, English, the basemap, planned and closed stations -------------

SIZES = [(360, 740), (390, 844), (1280, 800)]
OPEN_STATION = "DEMO-LZ-LA-001"  # open, in Liuzhou
PLANNED_STATION = "DEMO-SL-RS-027"  # 筹建中 in the demo registry
JARGON = ("GeoJSON", "BD-09", "GCJ-02", "WGS-84", "WGS84", "API")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
#: Every CSP violation the page sees, and its console errors, recorded from the first byte.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
def station_tab(browser, server):
    """``station_tab(path, viewport)`` -> (page, problems): console errors and CSP events."""
    contexts = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _open(path: str, viewport=(390, 844)):
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        context.add_init_script(WATCH)
        origin = server.url

        def _route(route):
            url = route.request.url
            if url.startswith(origin + "/") or url.startswith("data:"):
                route.continue_()
            else:
                route.abort()

        context.route("**/*", _route)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(server.url + path)
        page.wait_for_selector("#yz-station-map .yz-marker")
        return page, problems

    yield _open
    for c in contexts:
        c.close()


def _clean(page, problems) -> None:
    problems = problems + page.evaluate("window.__csp")
    assert problems == [], problems


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_navigation_is_above_the_fold_and_the_map_has_a_basemap(station_tab, size):
    page, problems = station_tab(f"/stations/{OPEN_STATION}", viewport=size)
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / f"station-{size[0]}x{size[1]}-after.png"))
    # the county outlines are drawn around the marker: a county border crosses the small map
    # (at zoom 14 one county fills it: a blank beige square)
    assert (
        page.evaluate(
            """() => [...document.querySelectorAll('#yz-station-map .leaflet-overlay-pane path')]
          .filter(p => { const b = p.getBoundingClientRect(),
                         m = document.getElementById('yz-station-map').getBoundingClientRect();
                         return p.getAttribute('d') !== 'M0 0' && b.width > 0 &&
                           (b.left > m.left || b.right < m.right ||
                            b.top > m.top || b.bottom < m.bottom); }).length"""
        )
        > 0
    ), "no county outline inside the small map"
    links = page.locator("#yz-navlinks a")
    assert links.count() >= 3
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box and box["y"] < size[1], f"navigation button {i} starts below the first screen"
    # the map's zoom stays within what the basemap draws, and the station is on it
    cfg = page.evaluate("JSON.parse(document.getElementById('yz-station-config').textContent)")
    zoom = page.evaluate("window.YizhanStation.map.getZoom()")
    assert zoom <= cfg["basemaps"][0]["max_zoom"]
    marker = page.locator("#yz-station-map .yz-marker").bounding_box()
    frame = page.locator("#yz-station-map").bounding_box()
    assert frame["x"] < marker["x"] and marker["x"] + marker["width"] < frame["x"] + frame["width"]
    # attribution as on the locator: the outlines' source
    attribution = page.locator("#yz-station-map .leaflet-control-attribution").inner_text()
    assert "cnmaps" in attribution
    # no jargon in what a worker reads
    text = page.locator("body").inner_text()
    for word in JARGON:
        assert word not in text, word
    _clean(page, problems)


def test_english_page_has_no_chinese_chrome(station_tab):
    page, problems = station_tab(f"/stations/{OPEN_STATION}?lang=en", viewport=(390, 844))
    page.screenshot(path=str(ARTIFACTS / "station-390x844-en-after.png"))
    assert page.evaluate("document.documentElement.lang") == "en"
    # UI chrome: everything but the station's own data, which is marked lang="zh-CN"
    chrome = page.evaluate(
        """() => {
          const out = [];
          const walk = (node) => {
            if (node.nodeType === 3) { out.push(node.textContent); return; }
            if (node.nodeType !== 1) return;
            const el = node;
            if (el.closest('[lang^="zh"]') && el !== document.documentElement) return;
            if (['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) return;
            const st = getComputedStyle(el);
            if (st.display === 'none' || st.visibility === 'hidden') return;
            el.childNodes.forEach(walk);
          };
          walk(document.body);
          return out.join(' ');
        }"""
    )
    assert not CJK.search(chrome), CJK.findall(chrome)[:20]
    assert "Navigate" in page.locator("#yz-nav-title").inner_text()
    assert "Yizhan" in page.title()
    _clean(page, problems)


def test_planned_and_closed_stations_say_so_before_navigation(station_tab, server):
    csv = server.tmp / "closed.csv"
    csv.write_text(
        "编号,名称,类型,经度,纬度,状态\nclosed-1,已撤销的驿站,工会爱心驿站,109.41,24.32,已关闭\n",
        encoding="utf-8",
    )
    server.cli("import", str(csv))
    for sid, word in (("closed-1", "已关闭"), (PLANNED_STATION, "筹建中")):
        page, problems = station_tab(f"/stations/{sid}", viewport=(360, 740))
        warning = page.locator("#yz-status-warning")
        assert warning.is_visible() and word in warning.inner_text()
        nav = page.locator("#yz-navlinks")
        assert warning.bounding_box()["y"] < nav.bounding_box()["y"]
        assert warning.bounding_box()["y"] < 740
        assert "yz-navlinks--inactive" in nav.get_attribute("class")
        assert page.locator("#yz-navlinks a").first.get_attribute("aria-describedby") == (
            "yz-status-warning"
        )
        page.screenshot(path=str(ARTIFACTS / f"station-{sid}-after.png"))
        _clean(page, problems)
    # an open station has no such warning
    page, problems = station_tab(f"/stations/{OPEN_STATION}", viewport=(360, 740))
    assert page.locator("#yz-status-warning").count() == 0
    _clean(page, problems)
