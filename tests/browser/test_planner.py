"""The planner pages in a real Chromium against a real ``yizhan serve``: log in, run a
coverage analysis, watch its progress, read the table, run a plan, see the chosen sites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support import ARTIFACTS, ROOT, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} is missing (run scripts/install_chromium.sh); browser tests are skipped "
        "outside CI and fail in CI",
        allow_module_level=True,
    )

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def planner_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planner-browser")
    srv = LiveServer(tmp)
    srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
    srv.start()
    proc = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "user", "add", "planner", "--password-stdin"],
        input=PASSWORD + "\n",
        env=srv.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    yield srv
    srv.stop()


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
