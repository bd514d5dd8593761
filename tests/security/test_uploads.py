"""Attacks with request bodies and uploaded files: every page or reader that takes a file is
tried with the same payloads (:mod:`payloads`).

* a body over the route's limit is refused (``413``) before it is read, and an
  unauthenticated POST is refused before its form is parsed — also by a real ``yizhan serve``
  process, with a 900 MB body declared and only a little sent;
* decompression bombs (a 400 MB string, a million rows, each a small ``.xlsx``) are refused
  with the figures, in bounded time and memory, by :mod:`geo.tables` (the one reader) and on
  the planner's forms;
* malformed files (empty, random bytes, truncated, ``features`` an object, deeply nested
  JSON) answer ``400`` with a message and leave no job folder; ``yizhan import`` refuses them
  with one line and exit status 2, no traceback;
* control characters (NUL, ESC …) in text fields are removed with a warning naming the row.
"""

from __future__ import annotations

import http.client
import io
import os
import socket
import time
import tracemalloc
from pathlib import Path

import pytest

import support
from geo.errors import FileFormatError, YizhanError
from geo.store import StationRepository, UserRepository
from security.payloads import CONTROL_TEXTS, MALFORMED_UPLOADS, xlsx_bomb, xlsx_many_rows
from support import LiveServer, cli, close_app

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    """The module's database (SQLite, then PostgreSQL) with one user."""
    tmp = tmp_path_factory.mktemp("uploads")
    with support.module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        UserRepository(repo.engine).create("alice", PASSWORD)
        yield {"tmp": tmp, "url": url}
        repo.engine.dispose()


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """The two decompression bombs, written once (about 0.4 MB and 15 MB on disk)."""
    tmp = tmp_path_factory.mktemp("bombs")
    return {
        "string": xlsx_bomb(tmp / "bomb.xlsx", string_mb=400),
        "rows": xlsx_many_rows(tmp / "rows.xlsx", rows=1_000_000),
    }


def make_app(env, **settings):
    settings.setdefault("login_rate_per_minute", 1000)
    return support.make_app(
        env["url"], planner_dir=str(env["tmp"] / "jobs"), tile_url="", **settings
    )


@pytest.fixture(scope="module")
def app(env):
    application = make_app(env)
    yield application
    close_app(application)


def logged_in(app):
    c = app.test_client()
    csrf = c.get("/planner/login?format=json").get_json()["csrf_token"]
    rv = c.post("/planner/login", data={"name": "alice", "password": PASSWORD, "csrf_token": csrf})
    assert rv.status_code == 303
    c.csrf = c.get("/planner/login?format=json").get_json()["csrf_token"]
    return c


def post_form(client, url: str, fields: dict):
    """POST a multipart form built in memory (files as ``(path, name)``), so a large upload
    leaves no temporary file of the test client behind."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    values = {
        k: FileStorage(io.BytesIO(v[0].read_bytes()), filename=v[1]) if isinstance(v, tuple) else v
        for k, v in fields.items()
    }
    boundary, body = encode_multipart(values)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def job_folders(env) -> set[str]:
    root = env["tmp"] / "jobs"
    return {p.name for p in root.iterdir()} if root.exists() else set()


class CountingStream(io.BytesIO):
    """A request body that counts what is read of it (``size`` bytes of multipart junk)."""

    def __init__(self, size: int) -> None:
        super().__init__(b"x" * size)
        self.size, self.read_bytes = size, 0

    def read(self, n=-1):
        data = super().read(n)
        self.read_bytes += len(data)
        return data

    def read1(self, n=-1):
        return self.read(n)

    def readline(self, n=-1):
        data = super().readline(n)
        self.read_bytes += len(data)
        return data

    def readinto(self, buf):
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


# -- request bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/planner/", "/planner/?format=json", "/planner/coverage/abc"])
def test_unauthenticated_post_is_refused_before_its_body_is_read(app, path):
    c = app.test_client()
    body = CountingStream(10 * 1024 * 1024)
    rv = c.post(
        path,
        input_stream=body,
        content_type="multipart/form-data; boundary=xyz",
        headers={"Content-Length": str(body.size)},
    )
    assert rv.status_code in (302, 303, 401)
    assert body.read_bytes == 0


def test_body_over_the_route_limit_is_refused_with_413(env):
    app = make_app(env, planner_max_upload_mb=0.25, max_form_kb=16)
    try:
        c = logged_in(app)
        # Upload routes: 2 × 0.25 MB + 1 MB = 1.5 MB; 2 MB is refused unread.
        rv = c.post(
            "/planner/?format=json",
            data={"csrf_token": c.csrf, "region": "450225", "pad": "x" * 2_000_000},
        )
        assert rv.status_code == 413
        assert "请求过大" in rv.get_json()["error"]["message"]
        html = c.post("/planner/", data={"csrf_token": c.csrf, "big": "x" * 2_000_000})
        assert html.status_code == 413 and "请求过大" in html.get_data(as_text=True)
        # A form without files (login) has the small limit.
        rv = c.post("/planner/login?format=json", data={"name": "a" * 20_000, "password": "x"})
        assert rv.status_code == 413
        # Under the body limit the upload's own size check answers (per file).
        big = io.BytesIO(b"a,b\n" * 100_000)  # 0.4 MB
        rv = c.post(
            "/planner/?format=json",
            data={
                "csrf_token": c.csrf,
                "region": "450225",
                "kind": "legal_aid",
                "demand": "population_table",
                "population_table": (big, "p.csv"),
            },
        )
        assert rv.status_code == 400 and "MB" in rv.get_json()["error"]["message"]
        assert job_folders(env) == set()
    finally:
        close_app(app)


def _dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_served_process_refuses_a_900_mb_body_without_receiving_it(tmp_path):
    """A real ``yizhan serve``: 900 MB declared, 256 KB sent, a fast refusal, no temp file."""
    tmp_dir = tmp_path / "server-tmp"
    tmp_dir.mkdir()
    server = LiveServer(tmp_path, env={"TMPDIR": str(tmp_dir)}).start()
    try:
        before = _dir_bytes(tmp_dir)
        declared = 900 * 1024 * 1024
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            head = (
                "POST /planner/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: multipart/form-data; boundary=xyz\r\n"
                f"Content-Length: {declared}\r\n\r\n"
            )
            sock.sendall(head.encode())
            try:
                for _ in range(4):
                    sock.sendall(b"x" * 65536)
            except OSError:
                pass  # the server may close before we finish: that is the point
            answer = b""
            try:
                while b"\r\n\r\n" not in answer:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            except OSError:
                pass
        elapsed = time.monotonic() - t0
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
        assert status in (302, 303, 401, 413), answer[:200]
        assert elapsed < 5, f"refusal took {elapsed:.1f} s"
        assert _dir_bytes(tmp_dir) - before < 1024 * 1024
        # The server still answers.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.stop()


# -- decompression bombs ------------------------------------------------------------------


@pytest.mark.parametrize("bomb, words", [("string", "uncompresses to"), ("rows", "rows")])
def test_table_reader_refuses_bombs_in_bounded_time_and_memory(bombs, bomb, words):
    from geo import candidates
    from geo.tables import TableLimits, check_table_file, read_table

    path = bombs[bomb]
    assert path.stat().st_size < 20 * 1024 * 1024
    for reader in (check_table_file, read_table, candidates.from_file):
        tracemalloc.start()
        t0 = time.monotonic()
        with pytest.raises(FileFormatError) as exc:
            reader(path, limits=TableLimits()) if reader is read_table else reader(path)
        elapsed = time.monotonic() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert words in exc.value.message and "limit" in exc.value.message
        # The bomb holds 400 MB / 1,000,000 rows: refused well before either is in memory.
        assert peak < 80 * 1024 * 1024, f"{reader.__name__}: peak {peak / 1e6:.0f} MB"
        assert elapsed < 20, f"{reader.__name__}: {elapsed:.1f} s"


@pytest.mark.parametrize("bomb", ["string", "rows"])
def test_planner_form_refuses_bombs_fast_and_leaves_no_folder(app, env, bombs, bomb):
    c = logged_in(app)
    before = job_folders(env)
    t0 = time.monotonic()
    rv = post_form(
        c,
        "/planner/?format=json",
        {
            "csrf_token": c.csrf,
            "region": "450225",
            "kind": "legal_aid",
            "demand": "seats",
            "township_table": (bombs[bomb], "乡镇.xlsx"),
        },
    )
    assert time.monotonic() - t0 < 20
    assert rv.status_code == 400, rv.get_data(as_text=True)[:300]
    assert "limit" in rv.get_json()["error"]["message"]
    assert job_folders(env) == before


# -- malformed files ----------------------------------------------------------------------


@pytest.mark.parametrize("name, write", MALFORMED_UPLOADS, ids=[n for n, _ in MALFORMED_UPLOADS])
def test_malformed_upload_answers_400_and_leaves_no_folder(app, env, tmp_path, name, write):
    c = logged_in(app)
    path = write(tmp_path / name)
    before = job_folders(env)
    for url in ("/planner/?format=json", "/planner/"):
        rv = post_form(
            c,
            url,
            {
                "csrf_token": c.csrf,
                "region": "450225",
                "kind": "legal_aid",
                "demand": "seats",
                "township_table": (path, name),
            },
        )
        assert rv.status_code == 400, rv.get_data(as_text=True)[:300]
        if "json" in url:
            assert rv.is_json and name in rv.get_json()["error"]["message"]
        else:
            assert name in rv.get_data(as_text=True)
    assert job_folders(env) == before


@pytest.mark.parametrize("name, write", MALFORMED_UPLOADS, ids=[n for n, _ in MALFORMED_UPLOADS])
def test_malformed_file_is_refused_by_every_reader(tmp_path, name, write):
    from geo import candidates
    from geo.demand.points import read_township_table
    from geo.records import read_registry

    path = write(tmp_path / name)
    for read in (candidates.from_file, read_registry, lambda p: read_township_table(p, "450225")):
        with pytest.raises(YizhanError) as exc:
            read(path)
        assert name in exc.value.message


@pytest.mark.parametrize("name, write", MALFORMED_UPLOADS, ids=[n for n, _ in MALFORMED_UPLOADS])
def test_import_of_a_malformed_file_exits_2_with_one_line(tmp_path, name, write):
    path = write(tmp_path / name)
    run_env = {**os.environ, "YIZHAN_DATABASE_URL": f"sqlite:///{tmp_path / 'y.db'}"}
    for extra in ((), ("--strict",)):
        proc = cli("import", str(path), *extra, env=run_env, check=False)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and name in lines[0], proc.stderr


# -- control characters -------------------------------------------------------------------


def test_control_characters_are_removed_with_a_warning_naming_the_row(tmp_path):
    from geo import candidates
    from geo.records import read_registry

    rows = "".join(
        f"{text},户外劳动者服务站点,{108.9 + i / 100:.2f},24.5,{text}\n"
        for i, text in enumerate(CONTROL_TEXTS)
    )
    path = tmp_path / "registry.csv"
    path.write_text("名称,类型,经度,纬度,备注\n" + rows, encoding="utf-8")
    stations, report = read_registry(path)
    assert len(stations) == len(CONTROL_TEXTS)
    for s in stations:
        for text in (s.name, s.notes or ""):
            assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text), repr(text)
    warned = {(w.line, w.field) for w in report.warnings if "control" in w.reason}
    lines = range(2, 2 + len(CONTROL_TEXTS))
    assert {(n, "name") for n in lines} <= warned and {(n, "notes") for n in lines} <= warned

    path = tmp_path / "candidates.csv"
    path.write_text(
        "id,name,lon,lat\n"
        + "".join(f"C{i}{t},{t},108.9,24.5\n" for i, t in enumerate(CONTROL_TEXTS)),
        encoding="utf-8",
    )
    sites = candidates.from_file(path)
    for value in [*sites["name"], *sites["id"]]:
        assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value), repr(value)
    assert any(w.startswith("line 2:") and "name" in w for w in sites.attrs["warnings"])
