"""Approval pages (issue 15 item 5) in a real Chromium against a real ``yizhan serve``, on a
360 px phone and a 1280 px desktop, on SQLite and PostgreSQL: an editor's change of a
station's position waits; the prefecture reviewer opens the queue, sees the change on the
small map and field by field, approves it with a comment; the public API shows the new
position; the editor sees the decision. No sideways scrolling, no console errors, no CSP
violations."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import support
from geo.models import Station
from geo.store import StationRepository
from geo.store.changes import ChangeStore
from support import MANAGE_SIZES as SIZES
from support import OVERFLOW, LiveServer, cli_user_add, manage_login, manage_page

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("changes-browser")
    with support.module_database(request, tmp) as url:
        srv = LiveServer(tmp, db_url=url, setup=())
        srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
        srv.start()
        try:
            users = (
                ("ed", "--role", "editor", "--area", "450225"),
                ("rev", "--role", "reviewer", "--area", "450200"),
            )
            for name, *args in users:
                cli_user_add(srv, name, *args)
            repo = StationRepository.from_url(url)
            srv.repo, srv.store = repo, ChangeStore(repo)
            yield srv
        finally:
            srv.stop()
            if getattr(srv, "repo", None) is not None:
                srv.repo.engine.dispose()


def _station(sid: str, lon: float, lat: float) -> Station:
    return Station(
        id=sid,
        name=f"融水审批站{sid}",
        kind="rest_stop",
        lon=lon,
        lat=lat,
        province_code="450000",
        prefecture_code="450200",
        county_code="450225",
        county="融水苗族自治县",
    )


def _public_position(server, sid: str, expected: list[float]) -> list[float] | None:
    """The station's position on /api/stations once it is ``expected`` (a running server
    sees a write within its index's check interval, 1 s), or what it is after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        doc = server.client().get("/api/stations").get_json()
        found = [f["geometry"]["coordinates"] for f in doc["features"] if f["id"] == sid]
        if (found and found[0] == expected) or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.2)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_reviewer_approves_a_moved_pin_and_the_public_map_follows(browser, server, size):
    sid = f"B{size[0]}"
    server.repo.save([_station(sid, 109.24, 25.06)], actor="cli:test", source="cli")
    change = server.store.propose(
        "edit", _station(sid, 109.2465, 25.0712), base_version=1, author="ed", reason="拖动定位"
    )
    assert _public_position(server, sid, [109.24, 25.06]) == [109.24, 25.06]
    context, page, errors = manage_page(browser, size)
    try:
        manage_login(page, server, "rev", "/manage/changes")
        assert page.evaluate(OVERFLOW) <= 0
        page.click(f"#mg-queue a[href='/manage/changes/{change.id}'] >> nth=0")
        page.wait_for_selector("#mg-change-map[data-ready='1']")
        assert page.locator("#mg-change-map .leaflet-interactive").count() >= 2
        fields = page.locator("#mg-diff tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.field)"
        )
        assert sorted(fields) == ["lat", "lon"]
        assert page.evaluate(OVERFLOW) <= 0
        page.fill("#mg-decide-comment", "位置已核对")
        page.click("#mg-approve")
        page.wait_for_selector("#mg-state[data-state='approved']")
        assert "位置已核对" in page.locator("#mg-comment").inner_text()
        assert page.evaluate("() => window.__csp") == []
        assert errors == []
        context.clear_cookies()
        manage_login(page, server, "ed", "/manage/changes")
        row = page.locator("#mg-mine tr", has=page.locator(f"text={sid}"))
        assert "已批准" in row.inner_text() and "位置已核对" in row.inner_text()
        assert page.evaluate(OVERFLOW) <= 0
    finally:
        context.close()
    assert _public_position(server, sid, [109.2465, 25.0712]) == [109.2465, 25.0712]
