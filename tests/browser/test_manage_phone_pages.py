"""Every ``/manage/`` page as a union worker's phone shows it (390x844, zh-CN, a real Chromium
against a real ``yizhan serve`` with the demo registry): the dashboard, the station list, a
station's form, its history, a new station, the changes and one pending change, the review
queue and one item, the upload form and a preview, the 六有 page, the demand-signal page and
the user administration. On each: the page is Chinese (lang zh, a Chinese heading), nothing
scrolls sideways, no console error, no Content-Security-Policy violation. The 360 px and
1280 px paths with their actions are in the other /manage/ browser tests; this one walks the
pages at the phone size the rest of the product is tried at."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from support import OVERFLOW, LiveServer, cli_user_add, manage_login, manage_page

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)

pytestmark = pytest.mark.browser
PHONE = (390, 844)
STATION = "DEMO-LZ-RS-040"  # a demo station of 融水 (450225)
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from geo.store import StationRepository
    from geo.store.changes import ChangeStore

    tmp = tmp_path_factory.mktemp("manage-phone")
    srv = LiveServer(tmp)
    srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
    srv.start()
    for name, *args in (
        ("root", "--role", "admin"),
        ("ed", "--role", "editor", "--area", "450225"),
    ):
        cli_user_add(srv, name, *args)
    repo = StationRepository.from_url(srv.db_url)
    s = repo.get(STATION)
    change = ChangeStore(repo).propose(
        "edit", dataclasses.replace(s, phone="0772-5550000"), base_version=s.version, author="ed"
    )
    repo.engine.dispose()
    srv.change_id = change.id
    yield srv
    srv.stop()


def _check(page, errors, path: str) -> None:
    assert page.evaluate("() => document.documentElement.lang").startswith("zh"), path
    heading = page.locator("h1").first.inner_text()
    assert HAN.search(heading), (path, heading)
    assert page.evaluate(OVERFLOW) <= 0, path
    assert page.evaluate("() => window.__csp") == [], path
    assert errors == [], (path, errors)


def test_every_manage_page_on_a_phone(browser, server, tmp_path):
    context, page, errors = manage_page(browser, PHONE, has_touch=True)
    try:
        manage_login(page, server, "ed", "/manage/")
        key = page.request.get(server.url + "/manage/review?format=json").json()["items"][0]["key"]
        paths = [
            "/manage/",
            "/manage/stations",
            f"/manage/stations/{STATION}",
            f"/manage/stations/{STATION}/history",
            "/manage/stations/new",
            "/manage/changes",
            f"/manage/changes/{server.change_id}",
            "/manage/review",
            f"/manage/review/{key}",
            "/manage/liuyou",
            "/manage/upload",
        ]
        for path in paths:
            page.goto(server.url + path)
            page.wait_for_load_state("networkidle")
            _check(page, errors, path)
        upload = tmp_path / "phone.csv"
        upload.write_text(
            "编号,名称,类型,经度,纬度,县区代码\n"
            "PH-1,融水手机核对驿站,驿站,109.2563,25.0661,450225\n"
            "PH-2,,驿站,109.25,25.06,450225\n",
            encoding="utf-8",
        )
        page.set_input_files("#mg-upload-file", str(upload))
        page.fill("#mg-upload-reason", "手机核对")
        page.click("#mg-upload button[type=submit]")
        page.wait_for_selector("#mg-upload-counts")
        page.wait_for_load_state("networkidle")
        _check(page, errors, "/manage/upload/<preview>")
        context.clear_cookies()
        manage_login(page, server, "root", "/manage/users")
        for path in ("/manage/users", "/manage/signals"):
            page.goto(server.url + path)
            page.wait_for_load_state("networkidle")
            _check(page, errors, path)
    finally:
        context.close()
