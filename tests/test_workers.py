"""``yizhan serve --workers 2``: a real gunicorn master and two forked workers on a free port.

Everything that used to live in one process's memory must hold across workers: planner jobs
(started through one worker, polled and cancelled through the other, their runner killed),
login throttling, the geocoding rate limit, sessions' revocation, the registry revision that
refreshes each worker's station index; a worker killed under load is replaced and only the
requests in flight on it may fail. Requests reach a chosen worker through a kept-alive
connection: the server runs with ``YIZHAN_WORKER_HEADER=1`` so every answer names its worker's
pid (``X-Worker``). Every process is stopped at the end, and the test checks it.

The database the processes share is a SQLite file, then a database on the suite's throwaway
PostgreSQL cluster (:func:`database`, ``support.BACKEND_PARAMS``): every test runs on both.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter

import support
from geo.models import Station
from geo.store import StationRepository, UserRepository
from geo.store.jobs import JobStore
from support import ROOT, cli, free_port, population_table

pytestmark = pytest.mark.skipif(os.name != "posix", reason="gunicorn runs on POSIX only")

PASSWORD = "correct horse battery"
SHORT = {"region": "450225", "kind": "legal_aid", "mode": "car"}  # 融水: a few seconds
LONG = {"region": "450200", "demand": "population_table", "resolution": "8"}  # many seconds
SERVE = (sys.executable, "-m", "webapp.cli", "serve")
LOGIN_PER_MINUTE = 6
GEOCODE_PER_MINUTE = 5


# -- processes ------------------------------------------------------------------------------


def children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# -- the server -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def database(request, tmp_path_factory):
    """The database URL the server and the test share: a SQLite file, or a fresh database on
    the session's throwaway PostgreSQL + PostGIS cluster (dropped afterwards)."""
    with support.module_database(request, tmp_path_factory.mktemp("workers-db")) as url:
        yield url


class Server:
    """A ``yizhan serve --workers 2`` process and helpers to reach each of its workers."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.tmp = tmp
        self.db_url = url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "YIZHAN_DATABASE_URL": url,
            "YIZHAN_TILE_URL": "",
            "YIZHAN_PLANNER_DIR": str(tmp / "jobs"),
            "YIZHAN_PLANNER_JOBS": "1",
            "YIZHAN_PLANNER_JOBS_PER_USER": "1",
            "YIZHAN_LOGIN_RATE_PER_MINUTE": str(LOGIN_PER_MINUTE),
            "YIZHAN_GEOCODE_RATE_PER_MINUTE": str(GEOCODE_PER_MINUTE),
            # Each test is its own client (X-Forwarded-For), so limits do not mix.
            "YIZHAN_TRUSTED_PROXIES": "1",
            "YIZHAN_WORKER_HEADER": "1",
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("YIZHAN_SECRET_KEY", None)  # the master must give all workers one key
        self.proc: subprocess.Popen | None = None
        self.seen: set[int] = set()  # every process of the server seen while it ran

    def start(self) -> Server:
        cli("init-db", env=self.env)
        cli("demo", env=self.env)
        self.log = open(self.tmp / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*SERVE, "--port", str(self.port), "--workers", "2", "--threads", "4"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.text()
            with contextlib.suppress(OSError):
                urllib.request.urlopen(self.base + "/healthz", timeout=2).close()
                if len(self.workers()) == 2:
                    return self
            time.sleep(0.3)
        raise AssertionError(f"server did not start:\n{self.text()}")

    def text(self) -> str:
        return (self.tmp / "server.log").read_text(errors="replace")

    def workers(self) -> set[int]:
        """The gunicorn workers (direct children of the master) that answer."""
        assert self.proc is not None
        pids = {p for p in children(self.proc.pid) if _ppid(p) == self.proc.pid and alive(p)}
        self.seen |= children(self.proc.pid)
        return pids

    def pinned(self, client: str) -> dict[int, Pinned]:
        """One kept-alive session per worker, as client ``client`` (X-Forwarded-For)."""
        found: dict[int, Pinned] = {}
        spare = []
        for _ in range(200):
            s = Pinned(self.base, client)
            pid = s.hello()
            if pid in found:
                spare.append(s)  # keep it open: the next connection goes elsewhere
            else:
                found[pid] = s
            if len(found) == 2:
                break
            if len(spare) % 8 == 7:  # both workers accept; give the other a chance
                time.sleep(0.05)
        for s in spare:
            s.close()
        assert len(found) == 2, f"could not reach two workers: {found.keys()}"
        return found

    def stop(self) -> None:
        assert self.proc is not None
        self.seen |= children(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()


def _ppid(pid: int) -> int:
    with contextlib.suppress(OSError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return -1


class Pinned:
    """A ``requests`` session with one kept-alive connection, so one worker answers it."""

    def __init__(self, base: str, client: str) -> None:
        self.base = base
        self.s = requests.Session()
        self.s.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1))
        self.s.headers["X-Forwarded-For"] = client
        self.pid: int | None = None

    def hello(self) -> int:
        rv = self.s.get(self.base + "/healthz", timeout=30)
        self.pid = int(rv.headers["X-Worker"])
        return self.pid

    def request(self, method: str, path: str, **kw) -> requests.Response:
        rv = self.s.request(method, self.base + path, timeout=60, **kw)
        assert int(rv.headers["X-Worker"]) == self.pid, "the kept-alive connection moved"
        return rv

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def login(self, name: str = "alice", password: str = PASSWORD) -> requests.Response:
        csrf = self.get("/planner/login?format=json").json()["csrf_token"]
        data = {"name": name, "password": password, "csrf_token": csrf}
        rv = self.post("/planner/login?format=json", data=data)
        if rv.status_code == 200:
            self.csrf = rv.json()["csrf_token"]
        return rv

    def share_login(self, other: Pinned) -> None:
        """Use ``other``'s session cookie (the same browser, another worker)."""
        self.s.cookies.update(other.s.cookies)
        self.csrf = other.csrf

    def close(self) -> None:
        self.s.close()


@pytest.fixture(scope="module")
def server(database, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workers")
    srv = Server(tmp, database)
    repo = StationRepository.from_url(database)
    try:
        srv.start()
        users = UserRepository(repo.engine)
        users.create("alice", PASSWORD)
        users.create("bob", PASSWORD)
        srv.table = population_table(tmp / "pop.csv", "4502")
        yield srv
    finally:
        repo.engine.dispose()
        if srv.proc is not None:
            srv.stop()
        deadline = time.monotonic() + 10
        while any(alive(p) for p in srv.seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in srv.seen if alive(p)]
        for p in left:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)
        assert not left, f"processes of the server outlived it: {left}"


# -- any worker answers any request ---------------------------------------------------------

KEY_REQUESTS = (
    "/api/stations?limit=5",
    "/api/stations?bbox=108.9,23.9,110.0,25.0&limit=50",
    "/api/stations?kind=rest_stop&limit=3",
    "/api/nearest?lon=109.4&lat=24.3&k=5",
    "/api/kinds",
    "/api/services",
    "/api/openapi.json",
    "/ogc/collections/stations/items?limit=2",
)


def test_every_worker_gives_the_same_answers(server):
    a, b = server.pinned("198.51.100.1").values()
    for path in KEY_REQUESTS:
        ra, rb = a.get(path), b.get(path)
        assert ra.status_code == rb.status_code == 200, (path, ra.text[:200])
        assert ra.json() == rb.json(), path
        assert ra.headers.get("ETag") == rb.headers.get("ETag"), path
    assert a.get("/api/nearest?lon=999&lat=24").status_code == 400
    assert b.get("/api/nearest?lon=999&lat=24").status_code == 400


def test_a_registry_change_reaches_every_worker_within_seconds(server):
    a, b = server.pinned("198.51.100.2").values()
    path = "/api/stations?bbox=109.00,24.00,109.01,24.01"
    assert a.get(path).json()["features"] == b.get(path).json()["features"] == []
    repo = StationRepository.from_url(server.db_url)
    try:
        station = Station(
            id="workers-test-1", name="多进程测试驿站", kind="rest_stop", lon=109.005, lat=24.005
        )
        repo.save([station])
        deadline = time.monotonic() + 10
        seen = set()
        while time.monotonic() < deadline and len(seen) < 2:
            for s in (a, b):
                ids = [f["id"] for f in s.get(path).json()["features"]]
                if ids == ["workers-test-1"]:
                    seen.add(s.pid)
            time.sleep(0.2)
        assert len(seen) == 2, "a worker kept its old station index"
    finally:
        repo.delete(["workers-test-1"])
        repo.engine.dispose()


# -- limits and sessions hold across workers -------------------------------------------------


def test_login_throttling_holds_across_workers(server):
    a, b = server.pinned("198.51.100.3").values()
    answers = []
    for i in range(2 * LOGIN_PER_MINUTE):
        s = (a, b)[i % 2]
        answers.append(s.login(password="wrong").status_code)
    allowed = sum(code == 401 for code in answers)
    # One process's bucket each would let 2 × LOGIN_PER_MINUTE through; a token refills in
    # 10 s, so at most one more may come while the loop runs.
    assert LOGIN_PER_MINUTE <= allowed <= LOGIN_PER_MINUTE + 1, answers
    assert answers[-1] == 429
    assert set(answers) == {401, 429}


def test_geocode_rate_limit_holds_across_workers(server):
    a, b = server.pinned("198.51.100.4").values()
    codes = [(a, b)[i % 2].get("/api/geocode?q=柳州市城中区").status_code for i in range(12)]
    refused = codes.count(429)
    assert GEOCODE_PER_MINUTE <= len(codes) - refused <= GEOCODE_PER_MINUTE + 1, codes
    assert codes[-1] == 429


def test_a_logout_through_one_worker_ends_the_session_on_the_other(server):
    a, b = server.pinned("198.51.100.5").values()
    assert a.login("bob").status_code == 200
    old_cookies = requests.utils.dict_from_cookiejar(a.s.cookies)
    b.share_login(a)
    assert b.get("/planner/?format=json").status_code == 200  # the same session on b
    assert a.post("/planner/logout?format=json", data={"csrf_token": a.csrf}).status_code == 200
    b.s.cookies.clear()
    b.s.cookies.update(old_cookies)  # a copy of the cookie saved before the logout
    assert b.get("/planner/?format=json").status_code == 401
    assert a.get("/planner/?format=json").status_code == 401


# -- planner jobs -------------------------------------------------------------------------------


def _start(s: Pinned, table: Path | None = None) -> requests.Response:
    data = {"csrf_token": s.csrf, **SHORT}
    if table is None:
        return s.post("/planner/?format=json", data=data)
    with table.open("rb") as f:
        files = {"population_table": ("人口.csv", f)}
        return s.post("/planner/?format=json", data={**data, **LONG}, files=files)


def _wait(s: Pinned, url: str, states: tuple[str, ...], timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    doc: dict = {}
    while time.monotonic() < deadline:
        doc = s.get(url + "?format=json").json()["job"]
        if doc["state"] in states:
            return doc
        time.sleep(0.2)
    raise AssertionError(f"job {url} not in {states} after {timeout_s} s: {doc}")


FINISHED = ("done", "failed", "cancelled")


@pytest.mark.slow
def test_a_job_started_through_one_worker_is_seen_and_cancelled_through_the_other(server):
    a, b = server.pinned("198.51.100.6").values()
    assert a.login().status_code == 200
    b.share_login(a)
    rv = _start(a, server.table)
    assert rv.status_code == 202, rv.text
    url = rv.json()["url"]
    running = _wait(b, url, ("running",))  # polled through the other worker
    assert running["id"] == a.get(url + "?format=json").json()["job"]["id"]
    # The per-user quota is counted in the table: the other worker refuses a second job.
    refused = _start(b)
    assert refused.status_code == 429 and "每人最多 1 个" in refused.json()["error"]["message"]
    listed = b.get("/planner/?format=json").json()["jobs"]
    assert [j["id"] for j in listed][:1] == [running["id"]]
    # Cancelled through b, whichever worker runs it.
    job_id = running["id"]
    rv = b.post(f"/planner/jobs/{job_id}/cancel?format=json", data={"csrf_token": b.csrf})
    assert rv.status_code == 200 and rv.json()["job"]["state"] == "cancelled", rv.text
    assert a.get(url + "?format=json").json()["job"]["state"] == "cancelled"
    # A short job started through b finishes; its result is read through a.
    rv = _start(b)
    assert rv.status_code == 202, rv.text
    done = _wait(a, rv.json()["url"], FINISHED)
    assert done["state"] == "done", done
    page = a.get(rv.json()["url"] + "?format=json").json()
    assert page["job"]["state"] == "done" and b.get(rv.json()["url"]).status_code == 200


@pytest.mark.slow
def test_a_job_whose_worker_is_killed_fails_with_a_clear_message(server):
    a, b = server.pinned("198.51.100.7").values()
    assert a.login().status_code == 200
    b.share_login(a)
    rv = _start(a, server.table)
    assert rv.status_code == 202, rv.text
    url = rv.json()["url"]
    doc = _wait(a, url, ("running",))
    engine = sa.create_engine(server.db_url)
    try:  # "running" is set when the job is claimed; its process id once it has spawned
        deadline = time.monotonic() + 30
        row = JobStore(engine).get(doc["id"])
        while row is not None and not row.worker_pid and time.monotonic() < deadline:
            time.sleep(0.1)
            row = JobStore(engine).get(doc["id"])
    finally:
        engine.dispose()
    assert row is not None and row.runner and row.worker_pid
    runner_pid = int(row.runner.split(":")[1])
    assert runner_pid in server.workers()
    job_process = row.worker_pid
    assert alive(job_process)
    os.kill(runner_pid, signal.SIGKILL)  # the worker that runs the job, not the job
    survivor = b if b.pid != runner_pid else a
    if survivor is a:  # a's connection died with its worker: a new one, to the survivor
        survivor = next(s for pid, s in server.pinned("198.51.100.8").items() if pid != runner_pid)
        survivor.share_login(a)
    failed = _wait(survivor, url, FINISHED, timeout_s=30)
    assert failed["state"] == "failed"
    assert "服务器进程已停止" in failed["message"], failed
    deadline = time.monotonic() + 10
    while alive(job_process) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(job_process), "the job's process outlived its worker"
    files = {p.name for p in (server.tmp / "jobs" / failed["id"]).iterdir()}
    assert files == {"inputs", "job.json"}
    _wait_for_two_workers(server, gone=runner_pid)


def _wait_for_two_workers(server: Server, gone: int) -> set[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = server.workers()
        if len(workers) == 2 and gone not in workers:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(server.base + "/healthz", timeout=5).close()
                return workers
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not replace worker {gone}: {server.workers()}")


# -- a worker killed under load ----------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_killed_under_load_is_replaced_and_loses_only_requests_in_flight(server):
    clients, per_client = 4, 150
    path = server.base + "/api/nearest?lon=109.4&lat=24.3&k=3"
    errors: list[str] = []
    answered: list[int] = []
    lock = threading.Lock()
    started = threading.Event()

    def load() -> None:
        for _ in range(per_client):
            req = urllib.request.Request(path, headers={"X-Forwarded-For": "198.51.100.9"})
            try:
                with urllib.request.urlopen(req, timeout=30) as rv:  # a new connection each
                    rv.read()
                    with lock:
                        answered.append(int(rv.headers["X-Worker"]))
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, cut short
                with lock:
                    errors.append(repr(exc))
            started.set()

    before = server.workers()
    threads = [threading.Thread(target=load) for _ in range(clients)]
    for t in threads:
        t.start()
    started.wait(30)
    time.sleep(0.5)
    victim = sorted(before)[0]
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads)
    print(f"worker {victim} killed under load: {len(errors)} of {clients * per_client} failed")
    # At most one request per client thread was in flight on the killed worker.
    assert len(errors) <= clients, errors
    assert len(answered) + len(errors) == clients * per_client
    after = _wait_for_two_workers(server, gone=victim)
    replacement = (after - before).pop()
    # The replacement answers: later requests reach it.
    reached = {s for s in server.pinned("198.51.100.10")}
    assert replacement in reached


# -- the shared tables, from several processes at once ----------------------------------------


def _take_tokens(url: str, n: int) -> int:
    from geo.store.limits import take_token
    from geo.store.repository import create_engine

    engine = create_engine(url)
    taken = 0
    try:
        for _ in range(n):
            with engine.begin() as conn:
                taken += take_token(conn, "login:203.0.113.1", 1e-9, 10.0, time.time())[0]
    finally:
        engine.dispose()
    return taken


def _claim_all(url: str, runner: str, tries: int) -> int:
    from geo.store.repository import create_engine

    engine = create_engine(url)
    try:
        return sum(JobStore(engine).claim(runner, 2) is not None for _ in range(tries))
    finally:
        engine.dispose()


@pytest.mark.both_backends
def test_token_buckets_and_job_claims_are_atomic_across_processes(tmp_path, db_url):
    """4 processes spend one 10-token bucket: exactly 10 requests pass. 4 processes claim
    from 6 queued jobs with a limit of 2 running: exactly 2 are claimed."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    url = db_url
    repo = StationRepository.from_url(url)
    repo.init_schema()
    store = JobStore(repo.engine)
    for i in range(6):
        store.queue(f"job{i}", "coverage", "alice", {}, str(tmp_path / f"job{i}"), b"", "me")
    repo.engine.dispose()
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        taken = sum(pool.map(_take_tokens, [url] * 4, [8] * 4))
        claimed = sum(pool.map(_claim_all, [url] * 4, [f"r{i}" for i in range(4)], [3] * 4))
    assert taken == 10
    assert claimed == 2
    engine = sa.create_engine(url)
    try:
        assert JobStore(engine).counts() == {"queued": 4, "running": 2}
        assert JobStore(engine).request_cancel("job5") == "cancelled"
        assert JobStore(engine).counts() == {"queued": 3, "running": 2}
    finally:
        engine.dispose()
