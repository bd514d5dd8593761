"""Jobs as an attack surface: killed workers, stopped servers, runaway and flooding jobs.

A bad day and a greedy user, tried for real: a planner job's worker process is killed with
SIGKILL mid-run, the server is stopped with SIGTERM (and killed with SIGKILL) mid-job, a job
runs past the time limit, a user cancels queued and running jobs from the page, and a user
tries to queue more jobs than allowed. Processes are found in ``/proc`` (children by parent
pid), independent of how the runner keeps them, and every process a test starts is ended by
the test. Real parts: the Flask app on a real database (SQLite, then PostgreSQL) with the demo
registry, real spawned workers running real coverage jobs, and a real ``yizhan serve`` for the
stop tests.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import signal
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import support
from geo.store import StationRepository, UserRepository
from support import LiveServer, cli, population_table
from webapp.services import services

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

PASSWORD = "correct horse battery"
SHORT = {"region": "450225", "kind": "legal_aid", "mode": "car"}  # 融水: a few seconds
LONG_REGION = "450200"  # Liuzhou at H3 resolution 8: ~25,000 cells, many seconds


# -- processes, from /proc ------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, ppid)`` of a process, ``None`` when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (children, their children …)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] not in ("Z", "X"):
                parents[int(entry.name)] = stat[1]
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def spawned_workers(pid: int) -> set[int]:
    """The multiprocessing *spawn* children of ``pid`` (job workers, not the tracker)."""
    return {p for p in descendants(pid) if "spawn_main" in cmdline(p)}


def wait_gone(pids: set[int], timeout_s: float) -> set[int]:
    """Wait until none of ``pids`` lives; the ones still alive after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = {p for p in pids if alive(p)}
        if not left:
            return set()
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


def kill_all(pids: set[int]) -> None:
    """Clean-up after a failed test: no process of it is left behind."""
    for p in pids:
        if alive(p):
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)


# -- a planner app with real jobs -----------------------------------------------------------


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    """The demo registry with users alice and bob, on SQLite, then on PostgreSQL."""
    tmp = tmp_path_factory.mktemp("jobs")
    with support.module_database(request, tmp) as url:
        cli("demo", env={**os.environ, "YIZHAN_DATABASE_URL": url})
        repo = StationRepository.from_url(url)
        repo.init_schema()
        UserRepository(repo.engine).create("alice", PASSWORD)
        UserRepository(repo.engine).create("bob", PASSWORD)
        table = population_table(tmp / "pop.csv", "4502")
        yield {"tmp": tmp, "url": url, "table": table}
        repo.engine.dispose()


@pytest.fixture
def make(env, tmp_path):
    """``make(**settings)``: a planner app on its own job folder; its runner is shut down and
    no worker of it is left after the test."""
    apps = []
    before = descendants(os.getpid())

    def build(**settings):
        settings.setdefault("login_rate_per_minute", 1000)
        app = support.make_app(
            env["url"], planner_dir=str(tmp_path / f"jobs{len(apps)}"), tile_url="", **settings
        )
        apps.append(app)
        return app

    yield build
    for app in apps:
        support.close_app(app)
    left = spawned_workers(os.getpid()) - before
    kill_all(left)
    assert not left, "a job worker outlived its runner"


def client(app, name="alice"):
    c = app.test_client()
    csrf = c.get("/planner/login?format=json").get_json()["csrf_token"]
    rv = c.post("/planner/login", data={"name": name, "password": PASSWORD, "csrf_token": csrf})
    assert rv.status_code == 303
    c.csrf = c.get("/planner/login?format=json").get_json()["csrf_token"]
    return c


def start(c, env, long: bool = False, expect: int = 202):
    data = {"csrf_token": c.csrf, **SHORT}
    if long:
        table = env["table"].open("rb")
        data.update(
            region=LONG_REGION,
            demand="population_table",
            resolution="8",
            population_table=(table, "人口.csv"),
        )
    rv = c.post("/planner/?format=json", data=data)
    assert rv.status_code == expect, rv.get_json()
    return rv.get_json()["url"] if expect == 202 else rv


def job(c, url) -> dict:
    return c.get(url, query_string={"format": "json"}).get_json()["job"]


def wait_state(c, url, states, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = job(c, url)
        if doc["state"] in states:
            return doc
        time.sleep(0.1)
    raise AssertionError(f"job at {url} not in {states} after {timeout_s} s: {doc}")


FINISHED = ("done", "failed", "cancelled")


def only_inputs(app, job_id: str) -> set[str]:
    """What a job's folder holds (an unfinished job keeps its inputs and job.json only)."""
    return {p.name for p in (services(app).jobs.root / job_id).iterdir()}


# -- 7: a killed worker fails its job only ----------------------------------------------------


@pytest.mark.slow
def test_killed_worker_fails_only_its_job_and_the_next_job_runs(make, env):
    app = make(planner_jobs=1)
    c = client(app)
    url = start(c, env, long=True)
    wait_state(c, url, ("running",))
    workers = spawned_workers(os.getpid())
    assert workers, "no worker process found"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    doc = wait_state(c, url, FINISHED, timeout_s=120)  # a bound, not a speed check
    assert doc["state"] == "failed"
    assert "工作进程意外退出" in doc["message"]
    assert only_inputs(app, doc["id"]) == {"inputs", "job.json"}
    health = c.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["jobs"]["pool"] == "rebuilt"
    assert health.get_json()["jobs"]["lost"] == 1
    # The next job runs (the old pool stayed broken: every later job failed).
    nxt = wait_state(c, start(c, env), FINISHED)
    assert nxt["state"] == "done", nxt["message"]
    assert c.get("/healthz").get_json()["jobs"] == {
        "workers": 1,
        "running": 0,
        "queued": 0,
        "lost": 1,
        "pool": "rebuilt",
        "ok": True,
    }


def test_healthz_reports_the_job_runner_and_503_when_it_cannot_run(make):
    app = make(planner_jobs=2)
    c = app.test_client()
    doc = c.get("/healthz").get_json()
    assert doc["status"] == "ok"
    assert doc["jobs"] == {
        "workers": 2,
        "running": 0,
        "queued": 0,
        "lost": 0,
        "pool": "ok",
        "ok": True,
    }
    services(app).jobs.shutdown()
    rv = c.get("/healthz")
    assert rv.status_code == 503
    assert rv.get_json()["jobs"]["pool"] == "broken" and rv.get_json()["status"] == "degraded"


# -- 9: time limit, cancel, per-user limit -------------------------------------------------


@pytest.mark.slow
def test_a_job_over_the_time_limit_is_stopped_and_the_next_runs(make, env):
    app = make(planner_jobs=1, job_time_limit_s=1.0)
    c = client(app)
    url = start(c, env, long=True)
    t0 = time.monotonic()
    doc = wait_state(c, url, FINISHED, timeout_s=60)
    assert doc["state"] == "failed", doc
    assert "超过时间限制" in doc["message"]
    assert time.monotonic() - t0 < 30  # stopped, not run to its end
    assert not spawned_workers(os.getpid())
    assert only_inputs(app, doc["id"]) == {"inputs", "job.json"}
    services(app).jobs.time_limit_s = None
    nxt = wait_state(c, start(c, env), FINISHED)
    assert nxt["state"] == "done", nxt["message"]


@pytest.mark.slow
def test_cancel_queued_and_running_jobs_from_the_page(make, env):
    app = make(planner_jobs=1)
    c = client(app)
    running = start(c, env, long=True)
    queued = start(c, env)
    a, b = job(c, running)["id"], job(c, queued)["id"]
    assert job(c, queued)["state"] == "queued"
    page = c.get(queued).get_data(as_text=True)
    assert 'id="pl-cancel"' in page and f"/planner/jobs/{b}/cancel" in page
    assert 'name="csrf_token"' in page.split('id="pl-cancel"')[1].split("</form>")[0]
    # The POST needs the CSRF token and the owner.
    assert c.post(f"/planner/jobs/{b}/cancel").status_code == 400
    bob = client(app, "bob")
    assert bob.post(f"/planner/jobs/{b}/cancel", data={"csrf_token": bob.csrf}).status_code == 404
    assert job(c, queued)["state"] == "queued"
    # A queued job is removed: it never runs.
    rv = c.post(f"/planner/jobs/{b}/cancel", data={"csrf_token": c.csrf})
    assert rv.status_code == 303 and rv.headers["Location"].endswith(queued)
    assert job(c, queued)["state"] == "cancelled"
    html = c.get(queued).get_data(as_text=True)
    assert "已取消" in html and 'id="pl-cancel"' not in html
    # A running job's worker is terminated; its partial outputs go.
    wait_state(c, running, ("running",))
    workers = spawned_workers(os.getpid())
    assert workers
    rv = c.post(f"/planner/jobs/{a}/cancel?format=json", data={"csrf_token": c.csrf})
    assert rv.status_code == 200 and rv.get_json()["job"]["state"] == "cancelled"
    assert not wait_gone(workers, 10)
    assert only_inputs(app, a) == {"inputs", "job.json"}
    assert only_inputs(app, b) == {"inputs", "job.json"}  # never ran
    assert json.loads((services(app).jobs.root / a / "job.json").read_text())["state"] == (
        "cancelled"
    )
    # A finished job cannot be cancelled; the runner runs the next job.
    rv = c.post(f"/planner/jobs/{a}/cancel?format=json", data={"csrf_token": c.csrf})
    assert rv.status_code == 409
    nxt = wait_state(c, start(c, env), FINISHED)
    assert nxt["state"] == "done", nxt["message"]
    assert c.get("/healthz").get_json()["jobs"]["pool"] == "ok"  # cancelling is no fault


@pytest.mark.slow
def test_per_user_queue_limit_answers_429(make, env):
    app = make(planner_jobs=1, planner_jobs_per_user=1)
    alice, bob = client(app), client(app, "bob")
    first = start(alice, env, long=True)
    before = set(services(app).jobs.root.iterdir())
    rv = start(alice, env, expect=429)
    error = rv.get_json()["error"]
    assert error["code"] == "rate_limited" and "每人最多 1 个" in error["message"]
    assert rv.headers["Retry-After"]
    html = alice.post("/planner/", data={"csrf_token": alice.csrf, **SHORT})
    assert html.status_code == 429 and "每人最多 1 个" in html.get_data(as_text=True)
    assert set(services(app).jobs.root.iterdir()) == before  # nothing saved, nothing queued
    # Another user is not blocked by alice's limit.
    other = start(bob, env)
    for c, url in ((alice, first), (bob, other)):
        c.post(url.replace("/coverage/", "/jobs/") + "/cancel", data={"csrf_token": c.csrf})
    # A finished (cancelled) job no longer counts.
    assert wait_state(alice, start(alice, env), FINISHED)["state"] == "done"


# -- 8: the server's workers end with the server --------------------------------------------


def _live_job(tmp_path: Path, db_url: str) -> tuple[LiveServer, str, str]:
    """A real ``yizhan serve`` on ``db_url`` running a long coverage job: (server, job url,
    job id)."""
    table = population_table(tmp_path / "pop.csv", "4502")
    server = LiveServer(tmp_path, {"YIZHAN_PLANNER_DIR": str(tmp_path / "jobs")}, db_url=db_url)
    server.start()
    server.add_user("alice", PASSWORD)
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def call(path, body=None, headers=None):
        req = urllib.request.Request(server.url + path, data=body, headers=headers or {})
        with opener.open(req, timeout=30) as resp:
            return json.load(resp)

    csrf = call("/planner/login?format=json")["csrf_token"]
    form = {"name": "alice", "password": PASSWORD, "csrf_token": csrf}
    call("/planner/login?format=json", urllib.parse.urlencode(form).encode())
    csrf = call("/planner/login?format=json")["csrf_token"]
    boundary = "----yizhan-jobs"
    fields = {**SHORT, "csrf_token": csrf, "region": LONG_REGION, "resolution": "8"}
    fields["demand"] = "population_table"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="population_table"; '
        f'filename="pop.csv"\r\nContent-Type: text/csv\r\n\r\n'
        + table.read_text(encoding="utf-8")
        + f"\r\n--{boundary}--\r\n"
    )
    url = call(
        "/planner/?format=json",
        "".join(parts).encode("utf-8"),
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )["url"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = call(url + "?format=json")["job"]
        if state["state"] != "queued":
            break
        time.sleep(0.2)
    assert state["state"] == "running", state
    return server, url, state["id"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.both_backends
def test_no_process_of_the_server_is_left_after_it_stops_mid_job(tmp_path, db_url, sig):
    server, _url, job_id = _live_job(tmp_path, db_url)
    assert server.proc is not None
    # "running" is set when the job is claimed; its worker process appears once spawned
    deadline = time.monotonic() + 30
    family = descendants(server.proc.pid)
    while not any("spawn_main" in cmdline(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.1)
        family = descendants(server.proc.pid)
    try:
        names = " | ".join(cmdline(p) for p in family)
        assert any("spawn_main" in cmdline(p) for p in family), names  # the job's worker
        os.kill(server.proc.pid, sig)
        t0 = time.monotonic()
        server.proc.wait(timeout=10)
        left = wait_gone(family, 10 - (time.monotonic() - t0))
        assert not left, [cmdline(p) for p in left]  # workers and the resource tracker
    finally:
        kill_all(family)
        server.stop()
    folder = tmp_path / "jobs" / job_id
    doc = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    if sig == signal.SIGTERM:  # stopped in order: the job says so, partial outputs removed
        assert doc["state"] == "failed" and "服务器已停止" in doc["message"]
        assert {p.name for p in folder.iterdir()} == {"inputs", "job.json"}
    time.sleep(1)  # nothing writes into the folder any more
    before = {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")}
    time.sleep(1.5)
    assert {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")} == before
