"""The registry workspace's base pages (``/manage/``) in a real Chromium against a real
``yizhan serve``, on a 360 px phone and a 1280 px desktop: an editor logs in through the
planner's form and lands on its dashboard; an administrator creates a user with the form.
No page scrolls sideways, no console errors, no CSP violations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
SIZES = [(360, 740), (1280, 800)]
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manage-browser")
    srv = LiveServer(tmp)
    srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
    srv.start()
    users = (("root", "--role", "admin"), ("ed", "--role", "editor", "--area", "450225"))
    for name, *args in users:
        proc = subprocess.run(
            [sys.executable, "-m", "webapp.cli", "user", "add", name, *args, "--password-stdin"],
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


def _page(browser, size):
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    return context, page, errors


def _login(page, server, name, target="/manage/"):
    page.goto(server.url + target)
    assert "/planner/login" in page.url
    page.fill("#pl-name", name)
    page.fill("#pl-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_editor_dashboard_and_admin_users(browser, server, size):
    context, page, errors = _page(browser, size)
    try:
        _login(page, server, "ed", "/planner/")  # the planner's default: sent on to /manage/
        assert page.url.endswith("/manage/")
        assert "融水苗族自治县" in page.locator("#mg-areas").inner_text()
        assert page.evaluate(OVERFLOW) <= 0
        assert page.locator("a[href='/manage/users']").count() == 0
        context.clear_cookies()
        _login(page, server, "root", "/manage/users")
        assert page.locator("h1").inner_text() == "用户管理"
        assert page.evaluate(OVERFLOW) <= 0
        new = f"staff{size[0]}"
        page.fill("#mg-new-name", new)
        page.fill("#mg-new-password", PASSWORD)
        page.select_option("#mg-new-role", "staff")
        page.fill("#mg-new-areas", "450206")
        page.click("#mg-create button[type=submit]")
        page.wait_for_selector(f"h2:text-is('{new}')")
        card = page.locator(".mg-user", has=page.locator(f"h2:text-is('{new}')"))
        assert "柳江区" in card.inner_text() and "只读人员" in card.inner_text()
        assert page.evaluate(OVERFLOW) <= 0
        assert page.evaluate("() => window.__csp") == []
        assert errors == []
    finally:
        context.close()
