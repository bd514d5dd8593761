"""Registry upload in a real Chromium against a real ``yizhan serve --workers 2`` (the preview is
kept where every worker finds it), on a 360 px phone and a 1280 px desktop, zh-CN, on SQLite
and PostgreSQL: an editor of 融水 uploads a CSV, sees the preview (new, changed, unchanged,
rejected, outside), commits, and the new and changed stations are stored with history source
``upload``. No page scrolls sideways, no console errors, no CSP violations."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

import support
from geo.store import StationRepository
from support import MANAGE_SIZES as SIZES
from support import OVERFLOW, LiveServer, cli_user_add, manage_login, manage_page

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)

pytestmark = pytest.mark.browser
HEADER = ["编号", "名称", "类型", "县区", "县区代码", "经度", "纬度", "开放时间", "状态"]
KIND, OPEN, HOURS = "工会爱心驿站", "运营中", "每天 08:00-18:00"
RS = ("融水苗族自治县", "450225")
LJ = ("柳江区", "450206")
SEED = [
    ["RS-1", "融水镇工会驿站一", KIND, *RS, "109.2432", "25.0628", HOURS, OPEN],
    ["RS-2", "融水镇工会驿站二", KIND, *RS, "109.2500", "25.0700", HOURS, OPEN],
    ["RS-3", "融水镇工会驿站三", KIND, *RS, "109.2600", "25.0800", HOURS, OPEN],
]
#: A station name that tries to end the script element and run its own.
HOSTILE = "</script><img src=x onerror=alert(1)>"


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("upload-browser")
    with support.module_database(request, tmp) as url:
        seed = _write(tmp / "seed.csv", SEED)
        srv = LiveServer(tmp, db_url=url, workers=2, setup=(("import", str(seed)),))
        srv.env["YIZHAN_PLANNER_DIR"] = str(tmp / "jobs")
        srv.env["YIZHAN_INSTANCE_PATH"] = str(tmp / "instance")
        srv.env["YIZHAN_APPROVAL"] = "off"  # the upload path itself; approval: test_upload.py
        srv.start()
        try:
            cli_user_add(srv, "ed", "--role", "editor", "--area", "450225")
            yield srv
        finally:
            srv.stop()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_editor_uploads_previews_and_commits(browser, server, size, tmp_path):
    w = size[0]
    rows = [
        SEED[0],  # unchanged
        [*SEED[1][:7], f"每天 07:00-{20 + w // 1000}:00", OPEN],  # changed
        [
            f"RS-NEW-{w}",
            f"融水新建驿站{w}",
            KIND,
            *RS,
            f"109.{2300 + w // 10}",
            "25.0500",
            "",
            OPEN,
        ],
        ["RS-BAD", "坏行驿站", KIND, *RS, "abc", "25.0500", "", OPEN],  # rejected
        [f"LJ-{w}", f"柳江新建驿站{w}", KIND, *LJ, "109.3134", "24.2534", "", OPEN],  # outside
    ]
    upload = _write(tmp_path / "名录.csv", rows)
    context, page, errors = manage_page(browser, size)
    try:
        manage_login(page, server, "ed", "/manage/upload", "#mg-upload")
        assert page.locator("h1").inner_text() == "上传站点名录"
        assert page.evaluate(OVERFLOW) <= 0
        page.set_input_files("#mg-upload-file", str(upload))
        page.fill("#mg-upload-reason", "年度核对")
        page.click("#mg-upload button[type=submit]")
        page.wait_for_selector("#mg-upload-counts")
        counts = {
            li.get_attribute("data-class"): li.locator("strong").inner_text()
            for li in page.locator("#mg-upload-counts li").all()
        }
        assert counts == {
            "new": "1",
            "changed": "1",
            "unchanged": "1",
            "rejected": "1",
            "outside": "1",
        }
        assert "柳江新建驿站" in page.locator("#mg-class-outside").inner_text()
        assert "07:00" in page.locator("#mg-class-changed").inner_text()
        assert page.evaluate(OVERFLOW) <= 0
        page.click("#mg-commit button[type=submit]")
        page.wait_for_selector("#mg-committed")
        assert "新增 1 个，修改 1 个" in page.locator("#mg-committed").inner_text()
        assert page.locator("#mg-commit").count() == 0
        assert page.evaluate(OVERFLOW) <= 0
        assert page.evaluate("() => window.__csp") == []
        assert errors == []
    finally:
        context.close()
    repo = StationRepository.from_url(server.db_url)
    try:
        assert repo.get(f"RS-NEW-{w}") is not None and repo.get(f"LJ-{w}") is None
        (version,) = repo.history(f"RS-NEW-{w}")
        assert (version.actor, version.source, version.reason) == ("ed", "upload", "年度核对")
    finally:
        repo.engine.dispose()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_preview_map_agrees_with_the_table(browser, server, size, tmp_path):
    """The preview's map: a marker per row with a position, by class, the moved station with
    a line from where it was; the legend's counts are the table's; a hostile name is text in
    the popup; a marker's click highlights its row and a row's click opens its marker."""
    w = size[0]
    rows = [
        [*SEED[0][:5], "109.2532", "25.0628", *SEED[0][7:]],  # changed: moved east
        SEED[2],  # unchanged
        [f"MAP-X-{w}", HOSTILE, KIND, *RS, "109.2300", "25.0500", "", OPEN],  # new
        ["MAP-BAD", "坏行驿站", KIND, *RS, "abc", "25.0500", "", OPEN],  # rejected, no position
        [f"MAP-LJ-{w}", f"柳江地图驿站{w}", KIND, *LJ, "109.3134", "24.2534", "", OPEN],  # outside
    ]
    upload = _write(tmp_path / "地图.csv", rows)
    context, page, errors = manage_page(browser, size)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        manage_login(page, server, "ed", "/manage/upload", "#mg-upload")
        page.set_input_files("#mg-upload-file", str(upload))
        page.fill("#mg-upload-reason", "地图核对")
        page.click("#mg-upload button[type=submit]")
        page.wait_for_selector("#mg-upload-map[data-ready='1']")
        table = {
            li.get_attribute("data-class"): int(li.locator("strong").inner_text())
            for li in page.locator("#mg-upload-counts li").all()
        }
        assert table == {"new": 1, "changed": 1, "unchanged": 1, "rejected": 1, "outside": 1}
        legend = {
            li.get_attribute("data-class"): (
                int(li.get_attribute("data-drawn")),
                int(li.get_attribute("data-rows")),
                int(li.locator("strong").inner_text()),
            )
            for li in page.locator("#mg-upload-legend li").all()
        }
        for kind, n in table.items():
            markers = page.locator(f"#mg-upload-map path.mg-mk--{kind}").count()
            rows_in_table = page.locator(f"#mg-class-{kind} tbody tr[id^='mg-row-']").count()
            assert legend[kind][1] == n == rows_in_table
            expected = 0 if kind == "rejected" else n  # the bad row has no position
            assert markers == legend[kind][0] == legend[kind][2] == expected, kind
        rejected = page.locator("#mg-upload-legend li[data-class=rejected]").inner_text()
        assert "1 行无坐标" in rejected
        assert page.locator("#mg-upload-map path.mg-mk-move").count() == 1
        assert page.locator("#mg-upload-map path.mg-mk-before").count() == 1
        assert page.locator("#mg-upload-not-drawn").count() == 0

        # marker -> row: the hostile name is text, in the popup and the highlighted row
        page.locator("#mg-upload-map path.mg-mk--new").dispatch_event("click")
        page.wait_for_selector(".leaflet-popup .mg-upload-popup")
        assert page.locator(".leaflet-popup .mg-upload-popup strong").inner_text() == HOSTILE
        assert page.locator(".leaflet-popup img, #mg-class-new img").count() == 0
        assert page.locator("tr.mg-hl").count() >= 1
        assert page.locator("tr.mg-hl").first.get_attribute("data-mk") == "new-0"
        assert HOSTILE in page.locator("#mg-row-new-0").inner_text()

        # row -> marker
        page.locator("#mg-row-changed-0 th").click()
        page.wait_for_function(
            "() => { const s = document.querySelector('.leaflet-popup .mg-upload-popup strong');"
            " return s && s.textContent === '融水镇工会驿站一'; }"
        )
        assert page.locator("tr.mg-hl").first.get_attribute("data-mk") == "changed-0"
        assert page.evaluate(OVERFLOW) <= 0
        assert page.evaluate("() => window.__csp") == []
        assert dialogs == [] and errors == []
    finally:
        context.close()
