"""Hostile text inside a validator reason (issue 15 wave 3 WORDS): a reason said in the page's
language carries the refused value (``reason.kind_unknown`` names the kind); on the upload
preview page it is shown as text, and in the XLSX/CSV report it never runs as a formula."""

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
HEADER = ["编号", "名称", "类型", "县区", "县区代码", "经度", "纬度"]
RS = ("融水苗族自治县", "450225")
RAW_MARKUP = ("<img", "<svg", "<script>alert", "<iframe")


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sec_reasons")
    settings = {"instance_path": str(tmp / "instance"), "approval": False}
    users = {"ed": ("editor", ["450225"])}
    with support.workspace(request, tmp, users, PASSWORD, **settings) as env:
        yield {**env, "client": support.login(env["app"], "ed", PASSWORD)}


def test_hostile_value_in_a_reason_is_text_on_the_page_and_in_the_report(env, tmp_path):
    client = env["client"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    for i, text in enumerate(PAYLOADS + FORMULAS):  # every row's kind is unknown: rejected
        w.writerow([f"X-{i:02d}", f"驿站{i}", text, *RS, "109.25", f"{25.03 + 0.01 * i:.4f}"])
    rv = client.post(
        "/manage/upload?format=json",
        data={
            "registry": (io.BytesIO(buf.getvalue().encode()), "r.csv"),
            "reason": "测试",
            "csrf_token": client.csrf,
        },
        content_type="multipart/form-data",
    )
    assert rv.status_code == 201, rv.get_data(as_text=True)
    body = rv.get_json()
    rejected = [r for r in body["items"] if r["kind"] == "rejected" and r["field"] == "kind"]
    assert rejected and all("未知的类型" in r["reason_text"] for r in rejected)

    html = client.get(body["urls"]["page"] + "?lang=zh").get_data(as_text=True)
    assert "未知的类型" in html
    for raw in RAW_MARKUP:
        assert raw not in html
    for text in PAYLOADS:
        if "<" in text:
            assert str(escape(text)) in html, text

    for fmt in ("xlsx", "csv"):
        rv = client.get(body["urls"][f"report_{fmt}"])
        assert rv.status_code == 200
        out = Path(tmp_path / f"report.{fmt}")
        out.write_bytes(rv.data)
        if fmt == "xlsx":
            _assert_no_formula(out)
        else:
            _assert_csv_quoted(out)
            assert "未知的类型" in out.read_text(encoding="utf-8-sig")
