"""The station list's review state and the pending notice on the form, in a real Chromium
against a real ``yizhan serve`` on SQLite and on PostgreSQL, zh-CN, at 360x740 and 1280x800,
approval on (the default): an editor of 融水 (450225) changes a station's phone and saves; the
change waits; the list filtered by the review state 待审批 (chosen in the form) shows the
station with its state; its form shows the editor's own pending proposal with the field before
and after and a link to the change. No sideways scroll, no console errors, no CSP violations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import support
from support import MANAGE_PASSWORD as PASSWORD
from support import MANAGE_SIZES as SIZES
from support import OVERFLOW, manage_login, manage_page

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)

pytestmark = pytest.mark.browser
#: One demo station of 融水 per size (each test changes its own).
STATIONS = {360: "DEMO-LZ-RS-040", 1280: "DEMO-LZ-RS-041"}


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manage-list-state")
    env = {"YIZHAN_PLANNER_DIR": str(tmp / "jobs")}
    with support.module_server(request, tmp, env) as srv:
        srv.cli(
            "user", "add", "ed", "--role", "editor", "--area", "450225", "--password-stdin",
            input=PASSWORD + "\n",
        )  # fmt: skip
        yield srv


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_filter_by_review_state_and_see_the_pending_notice(browser, server, size):
    sid = STATIONS[size[0]]
    context, page, errors = manage_page(browser, size, has_touch=size[0] == 360)
    try:
        manage_login(page, server, "ed", f"/manage/stations/{sid}", wait="#ms-form")
        assert page.locator(".ms-pending").count() == 0
        page.fill("#ms-f-phone", "0772-9990000")
        page.fill("#ms-reason", "电话已更换")
        page.click("#ms-save")
        page.wait_for_url("**/manage/changes/*")  # approval on: the change waits
        change_path = "/manage/changes/" + page.url.rsplit("/", 1)[1]

        page.goto(server.url + "/manage/stations")
        page.select_option("#ms-review", "pending")
        page.click("#ms-filters button[type=submit]")
        page.wait_for_url("**review=pending*")
        items = page.locator(".ms-item")
        assert items.count() >= 1
        states = items.evaluate_all("(els) => els.map((li) => li.dataset.review)")
        assert set(states) == {"pending"}
        mine = page.locator(f".ms-item:has(code:text-is('{sid}'))")
        assert mine.locator(".ms-review").inner_text() == "待审批"
        count = page.locator("#ms-review-counts a[data-review=pending] .ms-review-n")
        assert int(count.inner_text()) == items.count()
        assert page.evaluate(OVERFLOW) <= 0

        mine.locator(".ms-name").click()
        notice = page.locator(".ms-pending--own")
        notice.wait_for()
        text = notice.inner_text()
        assert "您对此站点有一项待审核的修改（提交于" in text and "再次保存将替换它" in text
        assert "0772-9990000" in notice.locator("tr[data-field=phone]").inner_text()
        assert notice.locator("a.ms-pending-link").get_attribute("href") == change_path
        assert page.evaluate(OVERFLOW) <= 0
        assert page.evaluate("() => window.__csp") == []
        assert errors == []
    finally:
        context.close()
