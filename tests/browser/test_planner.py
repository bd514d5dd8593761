"""The planner pages in a real Chromium against a real ``yizhan serve``: log in, run a
coverage analysis, watch its progress, read the table, run a plan, see the chosen sites; and
every planner page at the phone sizes couriers and planners carry and a desktop size, in
Chinese and in English: a basemap with county outlines from this server, the attribution line
on one line on phones (a toggle opens it), zero CSP violations, zero console errors, and no
text of the other language outside data marked ``translate="no"``."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support import ARTIFACTS, BACKEND_PARAMS, module_server, other_language_text

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} is missing (run scripts/install_chromium.sh); browser tests are skipped "
        "outside CI and fail in CI",
        allow_module_level=True,
    )

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
APPROVAL = "GS（2026）0001号"
ICP = "桂ICP备00000001号"
SIZES = [(360, 740), (375, 667), (390, 844), (412, 915), (1280, 800)]
#: Records every Content-Security-Policy violation of the page (before any script runs).
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
#: The visible text of the page without code samples and data: names of users, regions,
#: townships, stations and scenarios and file names, marked translate="no".
VISIBLE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  const skip = 'code, pre, script, style, [translate="no"], [hidden]';
  body.querySelectorAll(skip).forEach(n => n.remove());
  return body.innerText;
}"""


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def planner_server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planner-browser")
    env = {
        "YIZHAN_PLANNER_DIR": str(tmp / "jobs"),
        "YIZHAN_MAP_APPROVAL": APPROVAL,
        "YIZHAN_ICP": ICP,
    }
    with module_server(request, tmp, env, start=False) as srv:
        # The deployment defaults: YIZHAN_TILE_URL is OSM's, the basemaps the offline outlines.
        srv.env.pop("YIZHAN_TILE_URL", None)
        srv.start()
        srv.add_user("planner", PASSWORD)
        yield srv


@pytest.mark.slow
def test_login_coverage_plan_flow(browser, planner_server):
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(planner_server.url))
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(120_000)
    page = context.new_page()
    foreign, errors = [], []

    def _route(route):
        url = route.request.url
        if url.startswith(origin + "/") or url.startswith("data:"):
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    page.route("**/*", _route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            # network errors are checked below (the wrong password is meant to get a 401)
            if (msg.type == "error" and not msg.text.startswith("Failed to load resource"))
            or "Content Security Policy" in msg.text
            else None
        ),
    )
    # every script of the planner pages (i18n.js, common.js, planner.js) is served
    statuses: dict[str, int] = {}
    page.on("response", lambda r: statuses.__setitem__(urlsplit(r.url).path, r.status))
    try:
        page.goto(planner_server.url + "/planner/")
        assert "/planner/login" in page.url
        page.fill("#pl-name", "planner")
        page.fill("#pl-password", "wrong password!")
        page.click("button[type=submit]")
        assert page.locator("#pl-login-error").inner_text() == "用户名或密码错误"
        page.fill("#pl-password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#pl-coverage-form")

        page.fill("#pl-region", "融水苗族自治县")
        page.select_option("#pl-kind", "legal_aid")
        page.fill("#pl-minutes", "45")
        page.click("#pl-run-coverage")
        page.wait_for_url("**/planner/coverage/**")
        # While it runs: a progress bar with a live text; then the result replaces it.
        if page.locator("#pl-progress").count():
            assert page.locator("#pl-progress-text").get_attribute("aria-live") == "polite"
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "planner-progress.png"))
        page.wait_for_selector("#pl-by-county tbody tr")
        page.wait_for_selector("#pl-map[data-ready='1']")
        job = json.load(
            urllib.request.urlopen(
                urllib.request.Request(
                    page.url + "?format=json",
                    headers={"Cookie": _cookie(context, origin)},
                ),
                timeout=10,
            )
        )
        share = job["result"]["summary"]["thresholds"][0]["share"]
        assert page.locator("#pl-share").inner_text() == f"{share:.1%}"
        rows = page.locator("#pl-by-county tbody tr")
        assert rows.count() == len(job["result"]["by_county"])
        assert "融水苗族自治县" in rows.first.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / "planner-coverage.png"), full_page=True)

        page.fill("#pl-k", "2")
        page.click("#pl-run-plan")
        page.wait_for_url("**/planner/plan/**")
        page.wait_for_selector("#pl-chosen tbody tr")
        page.wait_for_selector("#pl-map[data-ready='1']")
        chosen = page.locator("#pl-chosen tbody tr")
        assert chosen.count() == 2
        assert chosen.first.locator("td").first.inner_text() == "1"
        assert page.locator("#pl-zip").get_attribute("href").endswith("/files/report.zip")
        page.screenshot(path=str(ARTIFACTS / "planner-plan.png"), full_page=True)
        for script in ("/static/js/i18n.js", "/static/js/common.js", "/static/js/planner.js"):
            assert statuses.get(script) == 200, (script, statuses.get(script))
        assert page.evaluate("window.Yizhan.i18n.lang()") == "zh"
        assert not [p for p, st in statuses.items() if st >= 400 and "/static/" in p], statuses
    finally:
        context.close()
    assert not foreign, foreign
    assert not errors, errors


def _cookie(context, origin: str) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies(origin + "/"))


@pytest.fixture(scope="module")
def planner_pages(browser, planner_server):
    """Log in once, run a coverage (township seats) and a plan from it; the session's cookies
    and the pages' URLs."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(120_000)
    page = context.new_page()
    try:
        page.goto(planner_server.url + "/planner/login")
        page.fill("#pl-name", "planner")
        page.fill("#pl-password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#pl-coverage-form")
        page.fill("#pl-region", "融水苗族自治县")
        page.select_option("#pl-kind", "legal_aid")
        page.fill("#pl-minutes", "45")
        page.click("#pl-run-coverage")
        page.wait_for_url("**/planner/coverage/**")
        page.wait_for_selector("#pl-by-county tbody tr")
        coverage = page.url
        page.fill("#pl-k", "2")
        page.click("#pl-run-plan")
        page.wait_for_url("**/planner/plan/**")
        page.wait_for_selector("#pl-chosen tbody tr")
        plan = page.url
        page.fill("#pl-scenario-name", "融水 新增两站")
        page.click("#pl-save-form button")
        page.wait_for_load_state()
        state = context.storage_state()
    finally:
        context.close()
    return {
        "state": state,
        "pages": {
            "login": None,
            "home": planner_server.url + "/planner/",
            "scenarios": planner_server.url + "/planner/scenarios",
            "coverage": coverage,
            "plan": plan,
        },
    }


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", ["login", "home", "scenarios", "coverage", "plan"])
def test_planner_page_basemap_attribution_language(
    browser, planner_server, planner_pages, name, size, lang
):
    """Each planner page at 360×740, 375×667, 390×844, 412×915 and 1280×800, in Chinese and
    (``?lang=en``) in English: no CSP violation, no console error, no request to another
    host, no text of the other language outside data; the result maps show the county
    outlines with county names from this server and the attribution line, on one line of the
    map on phones with a toggle that opens it."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(planner_server.url))
    url = planner_pages["pages"][name] or planner_server.url + "/planner/login"
    if lang == "en":
        url += "?lang=en"
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        storage_state=None if name == "login" else planner_pages["state"],
    )
    context.set_default_timeout(60_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    foreign, errors, outlines = [], [], []

    def _route(route):
        u = route.request.url
        if u.startswith(origin + "/") or u.startswith("data:"):
            route.continue_()
        else:
            foreign.append(u)
            route.abort()

    page.route("**/*", _route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on(
        "response",
        lambda r: (
            outlines.append(r.status) if urlsplit(r.url).path == "/data/basemap.geojson" else None
        ),
    )
    try:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.get_attribute("html", "lang") == ("en" if lang == "en" else "zh-CN")
        if name in ("coverage", "plan"):
            page.wait_for_selector("#pl-map[data-ready='1']")
            page.wait_for_selector("#pl-map[data-outlines]")
            assert outlines == [200], outlines  # the outlines came from this server
            assert int(page.get_attribute("#pl-map", "data-outlines")) > 50
            assert page.get_attribute("#pl-map", "data-basemap") == "offline"
            # county names at their seats, shown at the result's zoom
            labels = page.locator(".pl-county-label")
            assert labels.count() > 50
            names = page.evaluate(
                "() => Array.from(document.querySelectorAll('.pl-county-label'))"
                ".filter(n => n.offsetParent !== null).map(n => n.textContent)"
            )
            assert "融水苗族自治县" in names, names[:20]
            attribution = page.locator("#pl-map .leaflet-control-attribution")
            line = attribution.inner_text()
            parts = [APPROVAL, ICP]
            parts += (
                ["行政区划", "审图号", "演示数据"] if lang == "zh" else ["Divisions", "Demo data"]
            )
            for part in parts:
                assert part in line, (part, line)
            if size[0] < 768:  # phones: one line of the map, the toggle shows it all
                one_line = attribution.bounding_box()["height"]
                assert one_line <= 24, one_line
                page.click("#pl-attr-toggle")
                assert attribution.bounding_box()["height"] > one_line
                assert page.get_attribute("#pl-attr-toggle", "aria-expanded") == "true"
                page.click("#pl-attr-toggle")
                assert attribution.bounding_box()["height"] == one_line
            assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
        text = page.evaluate(VISIBLE_TEXT)
        # K (stations to add), the formats and the data sources, shown as they are
        other = other_language_text(text, lang)  # names: support.LATIN_ALLOWED_IN_ZH
        assert not other, (other, text[:1500])
        csp = page.evaluate("window.__csp")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"planner-{name}-{lang}-{size[0]}x{size[1]}-after.png"),
            full_page=name not in ("coverage", "plan"),
        )
        if name in ("coverage", "plan"):
            page.locator("#pl-map").scroll_into_view_if_needed()
            page.screenshot(
                path=str(ARTIFACTS / f"planner-{name}-{lang}-map-{size[0]}x{size[1]}-after.png")
            )
    finally:
        context.close()
    assert not csp, csp
    assert not foreign, foreign
    assert not errors, errors
