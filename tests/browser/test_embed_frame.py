"""The embeddable map in a real browser, framed by union sites on other origins.

Three loopback origins: the app (``yizhan serve``), an allowed union site and a site that is
not on ``YIZHAN_EMBED_ORIGINS`` (different ports are different origins). The union sites are
tiny ``http.server`` processes serving pages the tests write: an ``<iframe>`` of ``/embed`` and
a ``message`` listener that records what arrives, with ``event.origin``.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from support import ARTIFACTS, BACKEND_PARAMS, module_server

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    import os

    if not os.environ.get("CI"):
        pytest.skip(
            f"{CHROMIUM} is missing (run scripts/install_chromium.sh)", allow_module_level=True
        )

pytestmark = pytest.mark.browser

STATION = "DEMO-LZ-LA-001"  # a demo legal-aid post in Liuzhou
MARKERS = ".leaflet-marker-pane .leaflet-marker-icon"
XSS_NAME = "<img src=x onerror=window.__xss=1>驿站"

HOST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>某市总工会 · 服务站点</title>
<style>body{{font-family:sans-serif;margin:12px}} #picked{{min-height:1.5em}}</style>
</head><body>
<h1>某市总工会：身边的服务站点</h1>
<script>
  window.__messages = [];
  window.addEventListener("message", function (e) {{
    window.__messages.push({{origin: e.origin, data: e.data}});
    if (e.data && e.data.type === "yizhan:station-selected") {{
      document.getElementById("picked").textContent = "已选：" + e.data.station.name;
    }}
  }});
</script>
<p id="picked"></p>
{frame}
</body></html>
"""


class UnionSite:
    """A web site on its own loopback origin; ``pages[path]`` is the HTML served at ``path``."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # http.server calls it by this name
                body = pages.get(urlsplit(self.path).path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def page(self, path: str, frame_html: str) -> str:
        self.pages[path] = HOST_PAGE.format(frame=frame_html)
        return self.origin + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def iframe(src: str, height: int = 520) -> str:
    return (
        f'<iframe id="yizhan-map" src="{html.escape(src)}" width="100%" height="{height}" '
        'style="border:0" allowfullscreen allow="geolocation" title="工会服务站点地图"></iframe>'
    )


@pytest.fixture(scope="module")
def sites():
    allowed, other = UnionSite(), UnionSite()
    yield allowed, other
    allowed.close()
    other.close()


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def app_server(request, tmp_path_factory, sites):
    allowed, _ = sites
    tmp = tmp_path_factory.mktemp("embed")
    registry = tmp / "xss.csv"
    registry.write_text(
        f'编号,名称,类型,经度,纬度\nXSS-1,"{XSS_NAME}",工会爱心驿站,109.30,24.20\n',
        encoding="utf-8",
    )
    with module_server(request, tmp, {"YIZHAN_EMBED_ORIGINS": allowed.origin}) as srv:
        srv.cli("import", str(registry))
        yield srv


@pytest.fixture
def browse(browser, app_server, sites):
    """``browse(url, viewport)`` -> (page, console); only loopback requests go out."""
    contexts = []

    def _open(url: str, viewport=(1100, 760)):
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        foreign: list[str] = []

        def _route(route):
            host = urlsplit(route.request.url).hostname
            if route.request.url.startswith("data:") or host == "127.0.0.1":
                route.continue_()
            else:
                foreign.append(route.request.url)
                route.abort()

        context.route("**/*", _route)
        page = context.new_page()
        console: list[str] = []
        errors: list[str] = []
        page.on("console", lambda msg: console.append(msg.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.foreign, page.js_errors = foreign, errors
        return page, console

    yield _open
    for c in contexts:
        c.close()


def api(server, path: str) -> dict:
    with urllib.request.urlopen(server.url + "/api" + path, timeout=10) as resp:
        return json.load(resp)


def embed_frame(page, timeout_s: float = 20, render: bool = False):
    """The page's ``/embed`` frame, once it has navigated there.

    ``render``: take screenshots while waiting; headless Chromium may not run the
    intersection checks that start a ``loading="lazy"`` frame until a frame is rendered.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "/embed" in frame.url and frame != page.main_frame:
                return frame
        if render:
            page.screenshot()
        time.sleep(0.2)
    raise AssertionError(f"no /embed frame in {[f.url for f in page.frames]}")


def messages(page, kind: str | None = None) -> list[dict]:
    got = page.evaluate("window.__messages")
    return [m for m in got if kind is None or (m["data"] or {}).get("type") == kind]


def wait_message(page, kind: str, timeout_s: float = 15) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = messages(page, kind)
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no {kind} message; got {messages(page)}")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def poll(target, expression: str, arg=None, timeout_s: float = 15) -> None:
    """Wait until ``expression`` (a JS function of ``arg``) is truthy in a page or frame.

    Polls with ``evaluate``: the pages' CSP (no 'unsafe-eval') refuses Playwright's
    ``wait_for_function``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if target.evaluate(expression, arg):
            return
        time.sleep(0.1)
    raise AssertionError(f"still false after {timeout_s} s: {expression}")


def zoom_of(frame) -> float:
    return frame.evaluate("window.YizhanLocator.app.map.getZoom()")


# -- tests ---------------------------------------------------------------------------------


def test_allowed_site_frames_the_map_and_hears_a_selection(browse, app_server, sites):
    allowed, _ = sites
    station = api(app_server, f"/stations/{STATION}")
    lon, lat = station["geometry"]["coordinates"]
    url = allowed.page(
        "/map.html", iframe(f"{app_server.url}/embed?lat={lat}&lon={lon}&zoom=16&kind=legal_aid")
    )
    page, console = browse(url)
    frame = embed_frame(page)
    marker = frame.locator(f'.yz-marker[data-station-id="{STATION}"]')
    marker.wait_for()

    ready = wait_message(page, "yizhan:ready")
    assert ready["origin"] == app_server.url
    height = wait_message(page, "yizhan:height")
    assert height["origin"] == app_server.url
    assert isinstance(height["data"]["height"], int) and height["data"]["height"] >= 200

    # the demo label is visible inside the frame; the full map opens in a new tab
    assert frame.locator("#yz-demo-banner").is_visible()
    full = frame.locator("#yz-embed-full")
    assert full.get_attribute("target") == "_blank"
    assert "noopener" in full.get_attribute("rel")
    assert f"lat={lat}" in full.get_attribute("href")

    marker.click()
    got = wait_message(page, "yizhan:station-selected")
    assert got["origin"] == app_server.url
    sent = got["data"]["station"]
    props = station["properties"]
    assert sent["id"] == STATION
    assert sent["name"] == props["name"]
    assert sent["kind"] == props["kind"]
    assert sent["lon"] == pytest.approx(lon) and sent["lat"] == pytest.approx(lat)
    assert sent["url"].startswith(app_server.url + "/stations/")
    page.locator("#picked").wait_for()
    assert props["name"] in page.locator("#picked").inner_text()

    # the parent's origin was found and allowed; nothing left loopback; no CSP complaint
    assert frame.evaluate("window.YizhanEmbed.target") == allowed.origin
    assert frame.evaluate("window.YizhanEmbed.enabled") is True
    assert page.foreign == [] and page.js_errors == []
    assert not [c for c in console if "Content Security Policy" in c]
    shot(page, "embed-allowed-site")


def test_site_not_on_the_list_cannot_frame_it(browse, app_server, sites):
    _, other = sites
    url = other.page("/map.html", iframe(f"{app_server.url}/embed"))
    page, console = browse(url)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not [c for c in console if "frame-ancestors" in c]:
        time.sleep(0.1)
    refused = [c for c in console if "frame-ancestors" in c]
    assert refused, f"Chromium did not report the CSP refusal: {console}"
    assert app_server.url in refused[0] and "blocked" in refused[0], refused[0]
    assert other.origin not in refused[0].split("frame-ancestors")[1]
    child = [f for f in page.frames if f != page.main_frame]
    assert len(child) == 1
    # the frame holds Chromium's error page, not the map
    assert child[0].query_selector("#yz-map") is None
    assert not child[0].url.startswith(app_server.url)
    time.sleep(1.0)
    assert messages(page) == []
    shot(page, "embed-refused-site")


def test_scroll_wheel_zooms_only_after_a_click(browse, app_server, sites):
    allowed, _ = sites
    url = allowed.page(
        "/wheel.html", iframe(f"{app_server.url}/embed?lat=24.33&lon=109.41&zoom=10")
    )
    page, _ = browse(url)
    frame = embed_frame(page)
    frame.locator(MARKERS).first.wait_for()
    box = page.locator("#yizhan-map").bounding_box()
    map_box = frame.locator("#yz-map").bounding_box()
    # a spot on the map away from markers and controls: the lower right corner area
    x = map_box["x"] + map_box["width"] - 60
    y = map_box["y"] + map_box["height"] - 60
    assert box["x"] <= x <= box["x"] + box["width"]
    before = zoom_of(frame)
    page.mouse.move(x, y)
    page.mouse.wheel(0, -400)
    time.sleep(0.8)
    assert zoom_of(frame) == before, "the wheel zoomed the map before it was clicked"
    assert frame.locator("#yz-wheel-hint").is_visible(), "the hint says to click first"
    shot(page, "embed-wheel-hint")

    page.mouse.click(x, y)
    page.mouse.wheel(0, -400)
    poll(frame, "(z) => window.YizhanLocator.app.map.getZoom() > z", before)


def test_station_text_renders_as_text_in_the_embed(browse, app_server, sites):
    allowed, _ = sites
    url = allowed.page("/xss.html", iframe(f"{app_server.url}/embed?lat=24.2&lon=109.3&zoom=15"))
    page, _ = browse(url)
    frame = embed_frame(page)
    marker = frame.locator('.yz-marker[data-station-id="XSS-1"]')
    marker.click()
    popup = frame.locator(".leaflet-popup .yz-popup-name")
    popup.wait_for()
    assert popup.inner_text() == XSS_NAME
    got = wait_message(page, "yizhan:station-selected")
    assert got["data"]["station"]["name"] == XSS_NAME
    assert page.locator("#picked").inner_text() == "已选：" + XSS_NAME
    assert frame.evaluate("window.__xss") is None and page.evaluate("window.__xss") is None


def test_bad_parameter_shows_a_message_inside_the_frame(browse, app_server, sites):
    allowed, _ = sites
    url = allowed.page("/bad.html", iframe(f"{app_server.url}/embed?kind=teleport"))
    page, _ = browse(url)
    frame = embed_frame(page)
    box = frame.locator("#yz-embed-error")
    box.wait_for()
    assert "kind" in box.inner_text() and "无效" in box.inner_text()
    shot(page, "embed-bad-parameter")


def test_builder_snippet_works_when_pasted_into_a_union_page(browse, app_server, sites):
    allowed, _ = sites
    page, _ = browse(app_server.url + "/embed/builder", viewport=(1280, 900))
    preview = embed_frame(page)
    preview.locator(MARKERS).first.wait_for()
    page.fill("#yz-b-region", "柳州市")
    page.check('input[name="kind"][value="legal_aid"]')
    page.uncheck('input[name="controls"][value="locate"]')
    page.fill("#yz-b-height", "500")
    page.locator("#yz-b-height").dispatch_event("change")
    poll(
        page,
        "() => document.getElementById('yz-b-code').value.indexOf('legal_aid') > 0"
        " && document.getElementById('yz-b-code').value.indexOf('\"500\"') > 0",
    )
    code = page.locator("#yz-b-code").input_value()
    m = re.fullmatch(
        r'<iframe src="([^"]+)" width="100%" height="500" style="border:0" allowfullscreen '
        r'allow="geolocation" loading="lazy" title="工会服务站点地图"></iframe>',
        code,
    )
    assert m, code
    src = html.unescape(m[1])
    parts = urlsplit(src)
    assert f"{parts.scheme}://{parts.netloc}" == app_server.url and parts.path == "/embed"
    query = parse_qs(parts.query)
    assert query == {
        "region": ["柳州市"],
        "kind": ["legal_aid"],
        "controls": ["search,filters,list"],
    }
    assert page.locator("#yz-b-origins").inner_text().strip() == allowed.origin
    poll(page, "() => document.getElementById('yz-b-preview').src.indexOf('legal_aid') > 0")
    shot(page, "embed-builder")

    # "use the current view" reads the preview map
    page.check("#yz-b-use-view")
    poll(page, "() => document.getElementById('yz-b-code').value.indexOf('zoom=') > 0")

    # paste the first snippet into the union's page: it loads, lazily, and talks to the page
    union = allowed.page("/pasted.html", code)
    host, _ = browse(union)
    frame = embed_frame(host, render=True)  # loading="lazy": loads once rendered in view
    frame.locator(MARKERS).first.wait_for()
    assert frame.locator("#yz-locate").count() == 0 and frame.locator("#yz-search").count() == 1
    ready = wait_message(host, "yizhan:ready")
    assert ready["origin"] == app_server.url
    shot(host, "embed-pasted-snippet")


def test_direct_visit_at_phone_width(browse, app_server):
    """Opened directly (a shared link, an app's web view) at 360 px: map, list, no side scroll."""
    page, _ = browse(app_server.url + "/embed?lat=24.33&lon=109.41&zoom=11", viewport=(360, 640))
    page.locator(MARKERS).first.wait_for()
    assert page.locator("#yz-demo-banner").is_visible()
    assert page.locator("#yz-embed-full").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    map_box = page.locator("#yz-map").bounding_box()
    assert map_box["height"] >= 200 and map_box["width"] >= 340
    assert page.evaluate("window.YizhanEmbed.enabled") is False  # not framed: nobody to tell
    shot(page, "embed-phone")


# -- issue 12 item 7: the frame keeps its height; the builder with an empty allow-list ------

SIZES = [(360, 740), (390, 844), (1280, 800)]
#: Every CSP violation a page (and its same-origin frames) sees, recorded from the first byte.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  (window.top.__csp || window.__csp).push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


def _errors(console_messages) -> list[str]:
    """Console errors and uncaught exceptions (recorded as they are)."""
    return [
        getattr(m, "text", str(m))
        for m in console_messages
        if getattr(m, "type", "error") == "error"
    ]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_embed_keeps_the_height_asked_for(browse, app_server, sites, size):
    allowed, _ = sites
    src = f"{app_server.url}/embed?lat=24.33&lon=109.41&zoom=11&height=480"
    url = allowed.page(f"/h480-{size[0]}.html", iframe(src, height=480))
    page, _ = browse(url, viewport=size)
    frame = embed_frame(page)
    frame.locator(MARKERS).first.wait_for()
    wait_message(page, "yizhan:height")
    time.sleep(1.0)  # the list arrives and the layout settles
    shot(page, f"embed-{size[0]}x{size[1]}-h480-after")
    assert frame.evaluate("document.documentElement.scrollHeight") == 480
    heights = [m["data"]["height"] for m in messages(page, "yizhan:height")]
    assert heights[-1] == 480, heights
    width = frame.evaluate("window.innerWidth")
    map_h = frame.locator("#yz-map").bounding_box()["height"]
    if width < 768:
        assert map_h >= 0.6 * 480, f"map {map_h} px of a 480 px frame"
        frame.locator("#yz-sheet-toggle").click()
        time.sleep(0.4)
    else:
        assert map_h >= 0.9 * 480
    # the list scrolls inside its own box, inside the frame
    box = frame.evaluate(
        """() => { const r = document.getElementById('yz-results-box');
                   const b = r.getBoundingClientRect();
                   return {bottom: b.bottom, scroll: r.scrollHeight, client: r.clientHeight,
                           overflow: getComputedStyle(r).overflowY}; }"""
    )
    assert box["bottom"] <= 480 + 1 and box["overflow"] in ("auto", "scroll"), box
    assert box["scroll"] > box["client"], box  # more stations than fit: it scrolls
    assert frame.evaluate("document.documentElement.scrollHeight") == 480
    if width < 768:
        shot(page, f"embed-{size[0]}x{size[1]}-h480-sheet-open")
    assert page.foreign == [] and page.js_errors == []


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def bare_server(request, tmp_path_factory):
    """The app with the default, empty allow-list."""
    tmp = tmp_path_factory.mktemp("embed-bare")
    with module_server(request, tmp, {"YIZHAN_EMBED_ORIGINS": ""}) as srv:
        yield srv


@pytest.fixture
def builder_tab(browser, bare_server):
    contexts = []

    def _open(path: str, viewport=(1280, 800)):
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(20_000)
        context.add_init_script(WATCH_CSP)
        contexts.append(context)
        page = context.new_page()
        console: list = []
        page.on("console", lambda m: console.append(m))
        page.on("pageerror", lambda exc: console.append(exc))
        page.goto(bare_server.url + path)
        page.wait_for_load_state()
        return page, console

    yield _open
    for c in contexts:
        c.close()


def _snippet_state(page) -> dict:
    return page.evaluate(
        """() => ({code: document.getElementById('yz-b-code').value,
                   codeDisabled: document.getElementById('yz-b-code').disabled,
                   copyDisabled: document.getElementById('yz-b-copy').disabled,
                   error: document.getElementById('yz-b-error').hidden ? '' :
                          document.getElementById('yz-b-error').textContent})"""
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_builder_with_empty_allow_list_warns_before_the_snippet(builder_tab, size):
    page, console = builder_tab("/embed/builder", viewport=size)
    warning = page.locator("#yz-b-no-origins")
    assert warning.is_visible()
    text = warning.inner_text()
    assert "YIZHAN_EMBED_ORIGINS" in text and "README" in text and "拒绝" in text
    code = page.locator("#yz-b-code")
    assert warning.bounding_box()["y"] < code.bounding_box()["y"]
    assert page.evaluate(
        "document.getElementById('yz-b-no-origins').compareDocumentPosition("
        "document.getElementById('yz-b-code')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    poll(page, "() => document.getElementById('yz-b-code').value.indexOf('<iframe') === 0")
    if size == (1280, 800):
        warning.scroll_into_view_if_needed()
        shot(page, "builder-empty-allowlist")
    assert _errors(console) == [] and page.evaluate("window.__csp") == []


@pytest.mark.parametrize(
    ("lang", "region", "expect"),
    [
        ("zh", "火星市", "找不到地区"),
        ("en", "火星市", "No region called"),
        ("zh", "朝阳区", "对应多个地区"),
    ],
)
def test_builder_bad_region_leaves_no_snippet(builder_tab, lang, region, expect):
    page, console = builder_tab("/embed/builder" + ("?lang=en" if lang == "en" else ""))
    assert page.evaluate("document.documentElement.lang") == ("en" if lang == "en" else "zh-CN")
    poll(page, "() => document.getElementById('yz-b-code').value.indexOf('<iframe') === 0")
    page.fill("#yz-b-region", region)
    poll(page, "() => !document.getElementById('yz-b-error').hidden")
    state = _snippet_state(page)
    assert expect in state["error"], state
    if lang == "en":
        assert not CJK.search(state["error"].replace(region, "")), state["error"]
    assert state["code"] == "" and state["codeDisabled"] and state["copyDisabled"], state
    shot(page, f"builder-bad-region-{lang}-{region}")
    # a good region brings the snippet back
    page.fill("#yz-b-region", "450200")
    poll(page, "() => document.getElementById('yz-b-code').value.indexOf('region=450200') > 0")
    state = _snippet_state(page)
    assert not state["codeDisabled"] and not state["copyDisabled"] and state["error"] == ""
    assert _errors(console) == [] and page.evaluate("window.__csp") == []
