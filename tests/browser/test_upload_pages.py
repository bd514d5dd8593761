"""Registry upload in a real Chromium against a real ``yizhan serve --workers 2`` (the preview is
kept where every worker finds it), on a 360 px phone and a 1280 px desktop, zh-CN, on SQLite
and PostgreSQL: an editor of 融水 uploads a CSV, sees the preview (new, changed, unchanged,
rejected, outside), commits, and the new and changed stations are stored with history source
``upload``. No page scrolls sideways, no console errors, no CSP violations."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

import support
from geo.store import StationRepository
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
HEADER = ["编号", "名称", "类型", "县区", "县区代码", "经度", "纬度", "开放时间", "状态"]
KIND, OPEN, HOURS = "工会爱心驿站", "运营中", "每天 08:00-18:00"
RS = ("融水苗族自治县", "450225")
LJ = ("柳江区", "450206")
SEED = [
    ["RS-1", "融水镇工会驿站一", KIND, *RS, "109.2432", "25.0628", HOURS, OPEN],
    ["RS-2", "融水镇工会驿站二", KIND, *RS, "109.2500", "25.0700", HOURS, OPEN],
]


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
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "webapp.cli",
                    "user",
                    "add",
                    "ed",
                    "--role",
                    "editor",
                    "--area",
                    "450225",
                    "--password-stdin",
                ],
                input=PASSWORD + "\n",
                env=srv.env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == 0, proc.stderr
            yield srv
        finally:
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
    context, page, errors = _page(browser, size)
    try:
        page.goto(server.url + "/manage/upload")
        assert "/planner/login" in page.url
        page.fill("#pl-name", "ed")
        page.fill("#pl-password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#mg-upload")
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
