"""The ``yizhan`` command line, run as a real subprocess (as the README tells users to)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from support import DATA, ROOT, cli, free_port

# the verbs that open the database run on SQLite and on PostgreSQL (``db_url``)
pytestmark = pytest.mark.both_backends


@pytest.fixture
def env(db_url):
    return {**os.environ, "YIZHAN_DATABASE_URL": db_url}


@pytest.mark.slow
def test_help_documents_every_verb():
    out = cli("--help").stdout
    for verb in ("init-db", "import", "export", "demo", "serve", "nearest", "settings"):
        assert verb in out
        assert cli(verb, "--help").stdout.strip()


@pytest.mark.slow
def test_import_exit_codes_and_report(tmp_path, env):
    cli("init-db", env=env)
    report_path = tmp_path / "report.json"
    proc = cli(
        "import", str(DATA / "registry_zh.csv"), "--report", str(report_path), env=env, check=False
    )
    assert proc.returncode == 1, proc.stderr  # some rows rejected, the rest committed
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["committed"] and report["counts"]["imported"] == 5
    assert report["counts"]["rejected_rows"] == 7
    assert {"line": 8, "field": "lon"}.items() <= next(
        r for r in report["rejected"] if r["line"] == 8
    ).items()
    assert "rejected line 7 [kind]" in proc.stderr

    strict = cli("import", "--strict", str(DATA / "registry_zh.csv"), env=env, check=False)
    assert strict.returncode == 2 and "refused" in strict.stderr

    clean = tmp_path / "clean.csv"
    clean.write_text("名称,类型,经度,纬度\n甲站,驿站,109.41,24.33\n", encoding="utf-8")
    assert cli("import", str(clean), env=env, check=False).returncode == 0
    again = cli("import", str(clean), env=env)
    assert "0 new, 0 updated, 1 unchanged" in again.stdout


def test_unreadable_file_is_a_clear_error(tmp_path, env):
    proc = cli("import", str(tmp_path / "missing.csv"), env=env, check=False)
    assert proc.returncode != 0 and "no such file" in proc.stderr


@pytest.mark.slow
def test_crs_option(tmp_path, env):
    path = tmp_path / "amap.csv"
    path.write_text("编号,名称,类型,经度,纬度\nA,甲站,驿站,109.41,24.33\n", encoding="utf-8")
    cli("import", str(path), "--crs", "gcj02", env=env)
    line = cli("nearest", "--lon", "109.41", "--lat", "24.33", "-k", "1", env=env).stdout
    assert 500 < json.loads(line)["distance_m"] < 600  # the GCJ-02 offset was removed
    bad = cli("import", str(path), "--crs", "mars", env=env, check=False)
    assert bad.returncode != 0 and "gcj02" in bad.stderr


@pytest.mark.slow
def test_demo_is_idempotent_and_exports(tmp_path, env):
    first = cli("demo", env=env)
    assert "0 rejected" in first.stdout
    second = cli("demo", env=env)
    assert " 0 new, 0 updated" in second.stdout
    for fmt in ("csv", "xlsx", "geojson", "gpkg"):
        out = tmp_path / f"demo.{fmt}"
        cli("export", "--out", str(out), env=env)
        assert out.stat().st_size > 1000
    doc = json.loads((tmp_path / "demo.geojson").read_text(encoding="utf-8"))
    assert all(f["properties"]["demo"] is True for f in doc["features"])
    legal = tmp_path / "legal.csv"
    cli("export", "--out", str(legal), "--kind", "法律援助服务站", "--lang", "zh", env=env)
    text = legal.read_text(encoding="utf-8-sig")
    assert text.startswith("编号,名称") and "法律援助服务站" in text and "工会爱心驿站" not in text


def test_serve_uses_port_variable(tmp_path, env):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "serve"],
        cwd=ROOT,
        env={**env, "PORT": str(port)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first_line
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                    assert json.load(r)["status"] == "ok"
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not answer")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()


def test_settings_lists_variables():
    out = cli("settings").stdout
    assert "YIZHAN_DATABASE_URL" in out and "YIZHAN_DEFAULT_CRS" in out
