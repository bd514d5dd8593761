"""The issue's whole path in a real Chromium against a real ``yizhan serve`` on SQLite and on
PostgreSQL, zh-CN, on a 360 px phone (the pin dragged by touch) and a 1280 px desktop (by
mouse), with approval on (the default): an editor of 融水 (450225) drags a station's pin and
saves; the change waits and the public API keeps the old position; the prefecture's (柳州
450200) reviewer approves it; the public API shows the new position; the history shows the
proposal, the approval and the approved version with old and new coordinates; a revert by the
reviewer restores the old position. The position is shown in WGS-84, GCJ-02 and BD-09; no
page scrolls sideways; no console errors, no CSP violations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import support
from support import MANAGE_SIZES as SIZES
from support import OVERFLOW, LiveServer, cli_user_add, drag_marker, manage_login, manage_page

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)

pytestmark = pytest.mark.browser
#: One demo station of 融水 per size (each test moves its own).
STATIONS = {360: ("DEMO-LZ-RS-040", 109.246039), 1280: ("DEMO-LZ-RS-041", 109.249537)}


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manage-stations-browser")
    with support.module_database(request, tmp) as url:
        yield from _serve(tmp, url)


def _serve(tmp: Path, url: str):
    srv = LiveServer(tmp, db_url=url)
    srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
    srv.start()
    cli_user_add(srv, "ed", "--role", "editor", "--area", "450225")
    cli_user_add(srv, "rev", "--role", "reviewer", "--area", "450200")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_editor_drags_the_pin_saves_and_sees_the_history(browser, server, size):
    sid, old_lon = STATIONS[size[0]]
    context, page, errors = manage_page(browser, size, has_touch=size[0] == 360)
    try:
        manage_login(
            page, server, "ed", f"/manage/stations/{sid}", "#ms-map[data-ready='1'][data-pin]"
        )
        assert page.locator(".pl-demo").is_visible()  # the demo label, as on other pages
        assert page.evaluate(OVERFLOW) <= 0
        gcj_before = page.locator("#ms-systems tr[data-crs=gcj02] .ms-sys-value").inner_text()
        assert gcj_before != "—"

        # a phone: the finger drags the pin (touch events); a desktop: the mouse
        drag_marker(page, context, ".ms-pin", touch=size[0] == 360)
        page.wait_for_selector("#ms-map[data-moved='1']")
        new_lon = float(page.input_value("#ms-f-lon"))
        assert new_lon > old_lon + 1e-5
        assert page.input_value("#ms-f-crs") == "wgs84"
        page.wait_for_function(
            "(before) => document.querySelector("
            "'#ms-systems tr[data-crs=gcj02] .ms-sys-value').textContent !== before",
            arg=gcj_before,
        )
        page.fill("#ms-reason", "现场核实位置")
        page.click("#ms-save")
        page.wait_for_url("**/manage/changes/*")  # approval on: the change waits
        change_url = page.url
        assert page.locator("#mg-state").get_attribute("data-state") == "pending"
        assert page.evaluate(OVERFLOW) <= 0
        assert _public_lon(page, server, sid) == pytest.approx(old_lon)

        # The prefecture's reviewer approves, in a browser of their own.
        reviewer, rpage, _ = manage_page(browser, size, has_touch=size[0] == 360)
        try:
            manage_login(rpage, server, "rev", change_url, "#mg-decide")
            assert rpage.evaluate(OVERFLOW) <= 0
            rpage.fill("#mg-decide-comment", "已核对")
            rpage.click("#mg-approve")
            rpage.wait_for_selector("#mg-state[data-state=approved]")
            page.wait_for_function("() => true")  # the editor's page stays as it was
            assert _public_lon(page, server, sid, expect=new_lon) == pytest.approx(
                new_lon, abs=1e-7
            )

            page.goto(server.url + f"/manage/stations/{sid}/history")
            page.wait_for_selector("#ms-versions")
            kinds = page.locator("#ms-steps li").evaluate_all(
                "(items) => items.map((li) => li.dataset.kind)"
            )
            assert kinds == ["approved", "proposed"]
            top = page.locator(".ms-version").first
            assert "现场核实位置" in top.inner_text() and "ed" in top.inner_text()
            assert "审核人 rev 批准" in top.inner_text()
            row = top.locator("tr[data-field=lon]")
            assert float(row.locator(".ms-before").inner_text()) == pytest.approx(old_lon)
            assert float(row.locator(".ms-after").inner_text()) == pytest.approx(new_lon, abs=1e-7)
            assert page.evaluate(OVERFLOW) <= 0

            # The reviewer reverts to version 1 (published at once: reviewers need no approval).
            rpage.goto(server.url + f"/manage/stations/{sid}/history")
            first = rpage.locator("#ms-v1")
            first.locator("input[name=reason]").fill("恢复原位置")
            first.locator("button[type=submit]").click()
            rpage.wait_for_selector(".ms-version >> nth=0 >> text=恢复原位置")
            assert _public_lon(page, server, sid, expect=old_lon) == pytest.approx(old_lon)
            assert rpage.evaluate("() => window.__csp || []") == []
        finally:
            reviewer.close()
        page.goto(server.url + "/manage/stations?q=" + sid)
        assert page.locator(".ms-item").count() == 1
        assert page.evaluate(OVERFLOW) <= 0
        assert page.evaluate("() => window.__csp") == []
        assert errors == []
    finally:
        context.close()


def _public_lon(page, server, sid: str, expect: float | None = None) -> float:
    """The station's longitude as the public map reads it (``/api/stations/<id>``, no login);
    with ``expect``, waits up to 10 s for it (each worker re-reads the registry within 1 s)."""
    import time

    deadline = time.monotonic() + 10
    while True:
        doc = page.request.get(server.url + f"/api/stations/{sid}").json()
        lon = doc["geometry"]["coordinates"][0]
        if expect is None or abs(lon - expect) < 1e-7 or time.monotonic() > deadline:
            return lon
        time.sleep(0.2)
