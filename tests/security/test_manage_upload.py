"""Hostile text in an uploaded registry (``/manage/upload``, issue 15 item 3): every
:data:`PAYLOADS` and :data:`FORMULAS` string in the cells of new, changed and rejected rows
is shown escaped on the preview page (HTML and JSON) and is text, never a formula, in the
downloaded report (XLSX and CSV); the upload writes nothing until it is committed. On SQLite
and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from markupsafe import escape

import support
from security.payloads import FORMULAS, PAYLOADS
from security.test_outputs import _assert_csv_quoted, _assert_no_formula

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
HEADER = ["编号", "名称", "类型", "县区", "县区代码", "经度", "纬度", "地址", "备注"]
RS = ("融水苗族自治县", "450225")
RAW_MARKUP = ("<img", "<svg", "<script>alert", "<iframe")


def _rows() -> list[list[str]]:
    rows = []
    for i, text in enumerate(PAYLOADS + FORMULAS):
        lon, lat = 109.20 + 0.004 * (i % 8), 25.03 + 0.004 * (i // 8)
        rows.append(
            [
                f"H-{i:02d}",
                f"驿站{i}{text}",
                "工会爱心驿站",
                *RS,
                f"{lon:.4f}",
                f"{lat:.4f}",
                text,
                text,
            ]
        )
    # a changed station (stored first, see the fixture) and a rejected row
    rows.append(
        ["H-CHG", "融水驿站", "工会爱心驿站", *RS, "109.30", "25.10", PAYLOADS[1], FORMULAS[0]]
    )
    rows.append(["H-BAD", "坏行", "工会爱心驿站", *RS, PAYLOADS[1], "25.1", "", ""])
    return rows


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sec_upload")
    users = {"ed": ("editor", ["450225"])}
    # the upload's own escaping, published directly (approval: tests/test_upload.py)
    settings = {"instance_path": str(tmp / "instance"), "approval": False}
    with support.workspace(request, tmp, users, PASSWORD, **settings) as env:
        yield {**env, "client": support.login(env["app"], "ed", PASSWORD)}


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def test_hostile_cells_escaped_on_page_and_neutralised_in_report(env, tmp_path):
    client = env["client"]
    # the station that the upload changes: stored with harmless text
    stored = [["H-CHG", "融水驿站", "工会爱心驿站", *RS, "109.30", "25.10", "旧地址", "旧备注"]]
    rv = client.post(
        "/manage/upload?format=json",
        data={
            "registry": (io.BytesIO(_csv(stored)), "a.csv"),
            "reason": "初始",
            "csrf_token": client.csrf,
        },
        content_type="multipart/form-data",
    )
    first = rv.get_json()
    rv = client.post(first["urls"]["commit"] + "?format=json", data={"csrf_token": client.csrf})
    assert rv.status_code == 200
    before = env["repo"].count()

    reason = PAYLOADS[1] + FORMULAS[0]
    rv = client.post(
        "/manage/upload?format=json",
        data={
            "registry": (io.BytesIO(_csv(_rows())), "<img src=x onerror=alert(1)>.csv"),
            "reason": reason,
            "csrf_token": client.csrf,
        },
        content_type="multipart/form-data",
    )
    assert rv.status_code == 201, rv.get_data(as_text=True)
    body = rv.get_json()
    assert env["repo"].count() == before  # the preview wrote nothing
    counts = body["counts"]
    assert counts["new"] == len(PAYLOADS + FORMULAS) and counts["changed"] == 1
    assert counts["rejected"] == 1

    html = client.get(body["urls"]["page"]).get_data(as_text=True)
    for raw in RAW_MARKUP:
        assert raw not in html
    for text in PAYLOADS:
        if "<" in text or "&" in text:
            assert str(escape(text)) in html, text  # shown, as text
    assert "{{ 7*7 }}" in html  # not evaluated as a template

    for fmt in ("xlsx", "csv"):
        rv = client.get(body["urls"][f"report_{fmt}"])
        assert rv.status_code == 200
        out = Path(tmp_path / f"report.{fmt}")
        out.write_bytes(rv.data)
        if fmt == "xlsx":
            assert _assert_no_formula(out) >= len(FORMULAS) - 2
        else:
            assert _assert_csv_quoted(out) >= len(FORMULAS) - 2
            text = out.read_text(encoding="utf-8-sig")
            assert "'=HYPERLINK" in text and "'=cmd|" in text
