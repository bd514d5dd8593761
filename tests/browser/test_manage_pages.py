"""The registry workspace's base pages (``/manage/``) in a real Chromium against a real
``yizhan serve``, on a 360 px phone and a 1280 px desktop: an editor logs in through the
planner's form and lands on its dashboard; an administrator creates a user with the form.
No page scrolls sideways, no console errors, no CSP violations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import MANAGE_PASSWORD, OVERFLOW, LiveServer, cli_user_add, manage_login, manage_page
from support import MANAGE_SIZES as SIZES

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manage-browser")
    srv = LiveServer(tmp)
    srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
    srv.start()
    users = (("root", "--role", "admin"), ("ed", "--role", "editor", "--area", "450225"))
    for name, *args in users:
        cli_user_add(srv, name, *args)
    yield srv
    srv.stop()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_editor_dashboard_and_admin_users(browser, server, size):
    context, page, errors = manage_page(browser, size)
    try:
        manage_login(page, server, "ed", "/planner/")  # the planner's default: sent on to /manage/
        assert page.url.endswith("/manage/")
        assert "融水苗族自治县" in page.locator("#mg-areas").inner_text()
        assert page.evaluate(OVERFLOW) <= 0
        assert page.locator("a[href='/manage/users']").count() == 0
        context.clear_cookies()
        manage_login(page, server, "root", "/manage/users")
        assert page.locator("h1").inner_text() == "用户管理"
        assert page.evaluate(OVERFLOW) <= 0
        new = f"staff{size[0]}"
        page.fill("#mg-new-name", new)
        page.fill("#mg-new-password", MANAGE_PASSWORD)
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
