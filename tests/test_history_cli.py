"""``yizhan import`` records who and why; ``yizhan history``, ``yizhan revert`` and ``yizhan
audit export`` (issue 15 item 6), run as real subprocesses on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import getpass
import os

import openpyxl
import pytest

from geo.store import StationRepository
from support import cli

pytestmark = [pytest.mark.both_backends, pytest.mark.slow]  # real subprocesses

# The county codes come from the coordinates (the gazetteer): 柳北区 450205, 柳州 450200.
REGISTRY = "编号,名称,类型,经度,纬度,电话\nA1,甲站,驿站,109.41,24.33,110\n"


@pytest.fixture
def env(db_url):
    return {**os.environ, "YIZHAN_DATABASE_URL": db_url}


def test_cli_import_history_revert_and_audit_export(tmp_path, env, db_url):
    path = tmp_path / "r.csv"
    path.write_text(REGISTRY, encoding="utf-8")
    cli("import", str(path), "--no-geocode", env=env)
    path.write_text(REGISTRY.replace(",110", ",120"), encoding="utf-8")
    cli("import", str(path), "--no-geocode", "--actor", "张三", "--reason", "年度更新", env=env)

    repo = StationRepository.from_url(db_url)
    try:
        first, second = repo.history("A1")
        assert (first.actor, first.source, first.action) == (
            f"cli:{getpass.getuser()}",
            "cli",
            "create",
        )
        assert (second.actor, second.reason, second.changes) == (
            "张三",
            "年度更新",
            {"phone": ["110", "120"]},
        )

        shown = cli("history", "A1", env=env).stdout
        assert "v1" in shown and "v2" in shown and "张三" in shown and "年度更新" in shown
        assert "phone: '110' -> '120'" in shown

        refused = cli(
            "revert", "A1", "--to", "1", "--reason", "x", "--expect", "1", env=env, check=False
        )
        assert refused.returncode != 0 and "changed since version 1" in refused.stderr
        assert repo.get("A1").phone == "120"
        cli("revert", "A1", "--to", "1", "--reason", "电话填错", "--actor", "李四", env=env)
        assert repo.get("A1").phone == "110" and repo.get("A1").version == 3
        third = repo.history("A1")[-1]
        assert (third.action, third.source, third.actor) == ("revert", "revert", "李四")
    finally:
        repo.engine.dispose()

    out = tmp_path / "audit.csv"
    cli("audit", "export", "--area", "450205", "--since", "2020-01-01", "--out", str(out), env=env)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"时间", "驿站编号", "操作", "字段", "修改前", "修改后", "操作人", "原因"} <= set(
        rows[0]
    )
    phone = [r for r in rows if r["字段"] == "联系电话"]
    assert [(r["修改前"], r["修改后"], r["操作人"]) for r in phone] == [
        ("", "110", f"cli:{getpass.getuser()}"),
        ("110", "120", "张三"),
        ("120", "110", "李四"),
    ]
    assert {r["操作"] for r in rows} == {"新建", "修改", "恢复到旧版本"}

    xlsx = tmp_path / "audit.xlsx"
    cli(
        "audit",
        "export",
        "--area",
        "450000",
        "--since",
        "2020-01-01",
        "--until",
        "2099-12-31",
        "--out",
        str(xlsx),
        "--lang",
        "en",
        env=env,
    )
    ws = openpyxl.load_workbook(xlsx).active
    header = [c.value for c in ws[1]]
    assert header[:3] == ["time", "station id", "station name"]
    assert ws.max_row == len(rows) + 1

    elsewhere = tmp_path / "none.csv"
    cli(
        "audit",
        "export",
        "--area",
        "450226",
        "--since",
        "2020-01-01",
        "--out",
        str(elsewhere),
        env=env,
    )
    assert len(elsewhere.read_text(encoding="utf-8-sig").splitlines()) == 1  # header only
    bad = cli("audit", "export", "--since", "yesterday", "--out", str(out), env=env, check=False)
    assert bad.returncode == 2 and "not a date" in bad.stderr
