"""Every page's scripts load and start cleanly, in Chinese and in English.

The page scripts are classic files sharing ``window.Yizhan`` (i18n.js, common.js, then the
page's own files, in template order). For the locator, the embed, the embed builder and the
station page this loads the page in a real Chromium and checks: every ``<script src>`` of the
HTML was answered 200 (no 404 in the network log), no console error and no uncaught
exception, the shared modules and the page's own object are there, and the page speaks the
language asked for. The planner pages (Chinese only) are checked the same way in
``test_planner.py``'s flow, which is what renders them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

STATION = "DEMO-LZ-LA-001"  # a demo legal-aid post in Liuzhou

# path, language, a JS expression true once the page's script has started, a selector and
# its expected text in that language (from i18n.js, put there by the script).
PAGES = [
    (
        "/",
        "zh",
        "!!(window.YizhanLocator && window.YizhanLocator.app && window.YizhanLocator.app.ready)",
        "#yz-results-title",
        "地图范围内的站点",
    ),
    (
        "/?lang=en",
        "en",
        "!!(window.YizhanLocator && window.YizhanLocator.app && window.YizhanLocator.app.ready)",
        "#yz-results-title",
        "Stations in the map view",
    ),
    (
        "/embed",
        "zh",
        "!!(window.YizhanEmbed && window.YizhanLocator && "
        "window.YizhanLocator.app && window.YizhanLocator.app.ready)",
        "#yz-pick",
        "在地图上点选",
    ),
    (
        "/embed?lang=en",
        "en",
        "!!(window.YizhanEmbed && window.YizhanLocator && "
        "window.YizhanLocator.app && window.YizhanLocator.app.ready)",
        "#yz-pick",
        "Pick on the map",
    ),
    ("/embed/builder", "zh", "!!window.YizhanBuilder", None, None),
    (
        f"/stations/{STATION}",
        "zh",
        "!!(window.YizhanLocator && "
        "document.querySelector('#yz-station-map .leaflet-marker-icon'))",
        None,
        None,
    ),
]


@pytest.mark.parametrize(("path", "lang", "started", "selector", "text"), PAGES)
def test_page_scripts_load_without_errors(browser, server, path, lang, started, selector, text):
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(server.url))
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    statuses: dict[str, int] = {}
    failed: list[str] = []

    def _route(route):
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            route.abort()  # offline: other origins are refused (and not this test's concern)

    page.route("**/*", _route)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: statuses.__setitem__(urlsplit(r.url).path, r.status))
    page.on(
        "requestfailed",
        # a frame that is navigated again (the builder's preview) aborts its first loads
        lambda r: failed.append(r.url) if r.failure != "net::ERR_ABORTED" else None,
    )
    try:
        response = page.goto(server.url + path)
        assert response.status == 200
        html = response.text()
        page.wait_for_function(started)
        page.wait_for_load_state("load")

        scripts = [urlsplit(s).path for s in re.findall(r'<script src="([^"]+)"', html)]
        assert "/static/js/i18n.js" in scripts and "/static/js/common.js" in scripts
        assert scripts.index("/static/js/i18n.js") < scripts.index("/static/js/common.js")
        # 304: the browser revalidated its cached copy (the same file, loaded)
        not_ok = {s: statuses.get(s) for s in scripts if statuses.get(s) not in (200, 304)}
        assert not not_ok, f"scripts not loaded (status): {not_ok}"
        missing = [p for p, st in statuses.items() if st >= 400]
        assert not missing, f"requests answered with an error: {missing}"
        assert not [u for u in failed if u.startswith(origin + "/")], failed

        assert page.evaluate("typeof window.Yizhan.t") == "function"
        assert page.evaluate("typeof window.Yizhan.common.getJSON") == "function"
        assert page.evaluate("window.Yizhan.i18n.lang()") == lang
        if selector:
            assert text in page.locator(selector).inner_text()
    finally:
        context.close()
    assert not errors, f"console errors on {path}: {errors}"
