"""Every page of the product at every size people use, in real Chromium (issue 12, done-when).

One sweep over the public locator, the station page, the embed and its builder, and the planner
pages (login, home, a finished coverage analysis, a finished plan, the scenario list), at
360×740, 375×667, 390×844, 412×915 and 1280×800 with locale zh-CN, and in English where the
page offers it. On each page and size:

- zero uncaught errors, zero ``console.error`` messages and zero Content-Security-Policy
  violations (a ``securitypolicyviolation`` listener installed before any script runs);
- zero requests to other origins (the product must work on an intranet);
- the page settles: after it is idle for 2 s, 3 more idle seconds make no request at all;
- no text in the other language in what the page shows (data such as station names and
  addresses is marked ``translate="no"`` and not scanned);
- nothing wider than the viewport (no sideways scrolling on a phone);
- a screenshot in ``tests/artifacts/pages-<page>-<size>.png``.

The sweep runs on a server over SQLite at every size, and over PostgreSQL at one phone size
(:data:`POSTGRES_SIZE`, 390×844) per page: the backend changes what a page reads, not how it
lays out, and five sizes on both would add ~70 page loads to CI.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support import (
    ARTIFACTS,
    BACKEND_PARAMS,
    VISIBLE_UI_TEXT_JS,
    module_server,
    other_language_text,
)

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing (run scripts/install_chromium.sh)", allow_module_level=True)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = [(360, 740), (375, 667), (390, 844), (412, 915), (1280, 800)]
#: On PostgreSQL every page is checked at one phone viewport only (the backend changes what
#: the pages read, not how they lay out; the five sizes stay on SQLite): CI time.
POSTGRES_SIZE = (390, 844)
PASSWORD = "correct horse battery"
STATION = "DEMO-LZ-LA-002"

# A listener installed before any script of the page runs: every CSP violation is kept.
CSP_PROBE = """
window.__yzCsp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__yzCsp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def site(request, tmp_path_factory, browser):
    """A real server with the demo registry, a planner user, and one finished coverage
    analysis and plan (run through the planner pages, as a planner would); on SQLite, then
    on PostgreSQL."""
    tmp = tmp_path_factory.mktemp("pages")
    with module_server(request, tmp, {"YIZHAN_PLANNER_DIR": str(tmp / "jobs")}) as srv:
        srv.add_user("planner", PASSWORD)
        yield _run_planner_pages(browser, srv, tmp)


def _run_planner_pages(browser, srv, tmp: Path):
    """Log in as the planner, run a coverage and a plan through the pages; ``srv`` with the
    pages to visit (``pages``) and the logged-in browser state (``state``)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(180_000)
    page = context.new_page()
    page.goto(srv.url + "/planner/login")
    page.fill("#pl-name", "planner")
    page.fill("#pl-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#pl-coverage-form")
    page.fill("#pl-region", "柳州市")
    page.fill("#pl-minutes", "60")
    page.click("#pl-run-coverage")
    page.wait_for_url("**/planner/coverage/**")
    page.wait_for_selector("#pl-by-county tbody tr")
    coverage = urlsplit(page.url).path
    page.fill("#pl-k", "2")
    page.click("#pl-run-plan")
    page.wait_for_url("**/planner/plan/**")
    page.wait_for_selector("#pl-chosen tbody tr")
    plan = urlsplit(page.url).path
    state = tmp / "state.json"
    context.storage_state(path=str(state))
    context.close()
    srv.pages = {
        "locator": ("/", False, "zh"),
        "locator-en": ("/?lang=en", False, "en"),
        "station": (f"/stations/{STATION}", False, "zh"),
        "station-en": (f"/stations/{STATION}?lang=en", False, "en"),
        "embed": ("/embed?region=450200", False, "zh"),
        "embed-h480": ("/embed?region=450200&height=480", False, "zh"),
        "builder": ("/embed/builder", False, "zh"),
        "builder-en": ("/embed/builder?lang=en", False, "en"),
        "planner-login": ("/planner/login", False, "zh"),
        "planner-home": ("/planner/", True, "zh"),
        "planner-coverage": (coverage, True, "zh"),
        "planner-plan": (plan, True, "zh"),
        "planner-scenarios": ("/planner/scenarios", True, "zh"),
        "planner-login-en": ("/planner/login?lang=en", False, "en"),
        "planner-home-en": ("/planner/?lang=en", True, "en"),
        "planner-coverage-en": (coverage + "?lang=en", True, "en"),
        "planner-plan-en": (plan + "?lang=en", True, "en"),
    }
    srv.state = str(state)
    return srv


def _visit(browser, site, name: str, size: tuple[int, int]):
    path, logged_in, lang = site.pages[name]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(site.url))
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        storage_state=site.state if logged_in else None,
    )
    context.set_default_timeout(30_000)
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    found = {"foreign": [], "errors": [], "requests": []}

    def _route(route):
        url = route.request.url
        if url.startswith(origin + "/") or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            found["foreign"].append(url)
            route.abort()

    page.route("**/*", _route)
    page.on("request", lambda r: found["requests"].append((time.monotonic(), r.url)))
    page.on("pageerror", lambda exc: found["errors"].append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda msg: (
            found["errors"].append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error"
            else None
        ),
    )
    page.goto(site.url + path, wait_until="load")
    return context, page, found, lang


def _settle(page, found, quiet_s: float = 2.0, limit_s: float = 20.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        last = found["requests"][-1][0] if found["requests"] else start
        if time.monotonic() - last >= quiet_s:
            return
        page.wait_for_timeout(200)


PAGES = [
    "locator",
    "locator-en",
    "station",
    "station-en",
    "embed",
    "embed-h480",
    "builder",
    "builder-en",
    "planner-login",
    "planner-home",
    "planner-coverage",
    "planner-plan",
    "planner-scenarios",
    "planner-login-en",
    "planner-home-en",
    "planner-coverage-en",
    "planner-plan-en",
]


@pytest.mark.postgres_subset(size=[POSTGRES_SIZE])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", PAGES)
def test_page_is_clean_settled_and_in_one_language(browser, site, name, size):
    context, page, found, lang = _visit(browser, site, name, size)
    try:
        _settle(page, found)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"pages-{name}-{size[0]}x{size[1]}.png"))
        before = len(found["requests"])
        page.wait_for_timeout(3000)
        idle = [u for _, u in found["requests"][before:]]
        csp = page.evaluate("window.__yzCsp")
        text = page.evaluate(VISIBLE_UI_TEXT_JS)
        width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        context.close()
    assert not found["foreign"], f"requests to other origins: {found['foreign']}"
    assert not found["errors"], f"console errors on {name}: {found['errors']}"
    assert not csp, f"CSP violations on {name}: {csp}"
    assert not idle, f"an idle {name} page made {len(idle)} requests in 3 s: {idle[:5]}"
    wrong = other_language_text(text, lang)
    assert not wrong, f"{name} in {lang} shows other-language text: {wrong}"
    assert width <= size[0], f"{name} is {width} px wide in a {size[0]} px viewport"


def test_planner_json_matches_what_the_pages_show(site):
    """The sweep's planner pages are real results: their JSON has a summary (not an error)."""
    state = json.loads(Path(site.state).read_text())
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in state["cookies"])
    for name in ("planner-coverage", "planner-plan"):
        url = site.url + urllib.parse.quote(site.pages[name][0]) + "?format=json"
        req = urllib.request.Request(url, headers={"Cookie": cookie})
        doc = json.load(urllib.request.urlopen(req, timeout=10))
        assert doc["job"]["state"] == "done" and doc["result"], doc
