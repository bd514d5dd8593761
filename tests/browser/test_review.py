"""The review queue (``/manage/review``) and the 六有 page in a real Chromium against a real
``yizhan serve`` on SQLite and PostgreSQL, on a 360 px phone and a 1280 px desktop (zh-CN): an
editor of 融水 opens the queue, opens a coarse-position item and accepts it with a reason; the
item leaves the open queue. No page scrolls sideways, no console errors, no CSP violations."""

from __future__ import annotations

import pytest

import support
from geo.gazetteer import default_gazetteer
from geo.models import Precision, Station
from geo.store import StationRepository, UserRepository
from support import MANAGE_PASSWORD as PASSWORD
from support import MANAGE_SIZES as SIZES
from support import OVERFLOW, LiveServer, manage_login, manage_page

pytestmark = pytest.mark.browser
RONGSHUI = "450225"


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review-browser")
    seat = default_gazetteer().get(RONGSHUI)
    with support.module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        UserRepository(repo.engine).create("ed", PASSWORD, "editor", [RONGSHUI])
        repo.save(
            [
                Station(
                    id=f"C{w}",
                    name=f"融水粗略驿站{w}",
                    kind="rest_stop",
                    lon=seat.lon + (0.01 if w == 360 else 0.02),
                    lat=seat.lat,
                    precision=Precision.COUNTY,
                    province_code="450000",
                    prefecture_code="450200",
                    county_code=RONGSHUI,
                    county="融水苗族自治县",
                )
                for w, _ in SIZES
            ]
        )
        repo.engine.dispose()
        srv = LiveServer(tmp, db_url=url, setup=())
        srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
        srv.start()
        yield srv
        srv.stop()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_editor_accepts_a_review_item(browser, server, size):
    context, page, errors = manage_page(browser, size)
    try:
        manage_login(page, server, "ed", "/manage/")
        assert "位置粗略" in page.locator("#mg-review-counts").inner_text()
        page.click("#mg-review-counts a[href='/manage/review']")
        page.wait_for_selector("#mg-review-items")
        assert page.locator("h1").inner_text() == "审核队列"
        assert page.evaluate(OVERFLOW) <= 0
        name = f"融水粗略驿站{size[0]}"
        page.click(f"#mg-review-items a:text-is('{name}')")
        page.wait_for_selector("#mg-accept")
        assert page.evaluate(OVERFLOW) <= 0
        page.click("#mg-accept button[type=submit]")  # no reason: refused, said next to it
        page.wait_for_selector("#mg-error")
        assert page.locator("#mg-error").get_attribute("data-field") == "reason"
        page.fill("#mg-accept-reason", "乡里只登记到县")
        page.click("#mg-accept button[type=submit]")
        page.wait_for_selector("#mg-review-done")
        assert "已确认无误" in page.locator("#mg-review-done").inner_text()
        assert name not in page.locator("#mg-review-items").inner_text()
        page.goto(server.url + "/manage/liuyou")
        page.wait_for_selector(".mg-liuyou-area")
        assert page.evaluate(OVERFLOW) <= 0
        assert page.evaluate("() => window.__csp") == []
        assert errors == []
    finally:
        context.close()
