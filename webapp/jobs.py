"""Background jobs of the planner pages: coverage and plan runs that do not block the server.

A :class:`JobRunner` runs up to ``YIZHAN_PLANNER_JOBS`` jobs at a time, each in its own worker
process. The queue and each job's state are rows of the database's ``jobs`` table
(:mod:`geo.store.jobs`), so every process of ``yizhan serve --workers N`` sees, polls and
cancels every job, and claims queued ones when it has a free slot. A job is created (``new``: an
id and a folder under the planner directory, where uploads go), then started (``start``) with a
task function run in a worker; the pages poll the job's JSON twin for its state (``queued``
while every slot is busy, ``running``, ``done``, ``failed``, ``cancelled``), stage and progress
fraction. Results are files in the job's folder plus ``job.json`` (state and the JSON result),
so downloads and result pages keep working after a restart. A job that does not finish (failed,
cancelled, over ``YIZHAN_JOB_TIME_LIMIT_S``, its worker killed, the server stopped) keeps only
its inputs and ``job.json``: its files match its state. A user may have
``YIZHAN_PLANNER_JOBS_PER_USER`` unfinished jobs (counted in the table).

Processes, not threads: a step such as serialising 25,000 cells to JSON holds the GIL for
seconds, which would stall every request thread. Workers are *spawned* (the server has
threads and open database connections, which ``fork`` would copy half-way), open their own
database connection, and report progress by writing ``progress.json`` into the job's folder,
which the server process running the job copies into the table with its heartbeat. Each task
carries the server's taxonomy (:class:`geo.workflows.Taxonomy`) and installs it in the worker
before it runs, so a kind added by configuration is known there too. A job that fails with a
:class:`geo.errors.YizhanError` shows its message; any other exception is logged with its
trace in the worker and shown as an internal error.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import math
import multiprocessing
import os
import pickle
import re
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING

from geo.coverage import json_default
from geo.errors import NotFound, RateLimited, ValidationError, YizhanError
from geo.store import schema
from geo.store.jobs import JobRow, JobStore
from geo.store.repository import create_engine
from geo.workflows import Taxonomy
from webapp import planner_text

if TYPE_CHECKING:  # pragma: no cover - types only
    from sqlalchemy.engine import Engine

LOGGER = logging.getLogger(__name__)
#: The message of a job whose worker process died (killed, out of memory).
WORKER_DIED = "工作进程意外退出（内存不足或被终止），请重新运行"
#: The message of a job whose server process (its runner) ended while it ran.
RUNNER_DIED = "运行该分析的服务器进程已停止（被终止或重启），请重新运行"
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
STATES = ("queued", "running", "done", "failed", "cancelled")


@dataclass
class Job:
    """One coverage or plan run."""

    id: str
    kind: str
    owner: str
    folder: Path
    params: dict = field(default_factory=dict)
    parent: str | None = None
    state: str = "queued"
    stage: str = "queued"
    fraction: float = 0.0
    message: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "owner": self.owner,
            "parent": self.parent,
            "state": self.state,
            "stage": self.stage,
            "fraction": round(self.fraction, 3),
            "message": self.message,
            "params": self.params,
            "created_at": self.created_at.isoformat(),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "run_time_s": (
                round((self.finished_at - self.started_at).total_seconds(), 2)
                if self.finished_at and self.started_at
                else None
            ),
        }

    def save(self) -> None:
        """Write ``job.json`` (state, parameters, result) into the job's folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {**self.to_dict(), "result": self.result}
        # A name of its own per writer: the canceller and the runner may write at once.
        tmp = self.folder / f"job.json.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(doc, ensure_ascii=False, default=json_default), encoding="utf-8")
        tmp.replace(self.folder / "job.json")

    @classmethod
    def of(cls, row: JobRow) -> Job:
        """The job of a row of the job table (without its result)."""
        return cls(
            id=row.id,
            kind=row.kind,
            owner=row.owner,
            folder=Path(row.folder),
            params=row.params,
            parent=row.parent,
            state=row.state,
            stage=row.stage,
            fraction=row.fraction,
            message=row.message,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )

    @classmethod
    def load(cls, folder: Path) -> Job:
        doc = json.loads((folder / "job.json").read_text(encoding="utf-8"))
        job = cls(
            id=doc["id"],
            kind=doc["kind"],
            owner=doc["owner"],
            folder=folder,
            params=doc.get("params") or {},
            parent=doc.get("parent"),
            state=doc["state"],
            stage=doc.get("stage", ""),
            fraction=doc.get("fraction", 0.0),
            message=doc.get("message", ""),
            created_at=datetime.fromisoformat(doc["created_at"]),
            started_at=_parse(doc.get("started_at")),
            finished_at=_parse(doc.get("finished_at")),
            result=doc.get("result"),
        )
        if not job.finished:  # the server stopped while it ran
            job.state, job.message = "failed", "服务器在运行期间重启，请重新运行"
        return job


class JobRunner:
    """Runs jobs in the background, one spawned worker process per job, at most ``workers``
    at a time across every server process; the rest wait as ``queued``.

    The queue and every job's state live in the database (:class:`geo.store.jobs.JobStore`,
    the app's database when built with its ``engine``, else a SQLite file in ``root``), so each
    worker process of ``yizhan serve --workers N`` has a runner and any of them can start,
    show, poll and cancel any job: a job started through one process is claimed by whichever
    runner has a free slot first and seen through all of them. A runner *claims* a queued
    job atomically, starts its process, stamps a heartbeat on its running jobs and writes
    their progress (read from ``progress.json``) every :attr:`HEARTBEAT_S`; a runner whose
    process ended (its heartbeat older than :attr:`STALE_S`, or on this host its pid gone)
    has its jobs failed by the next runner that looks, with :data:`RUNNER_DIED`.

    One process per job, not a :class:`~concurrent.futures.ProcessPoolExecutor`: a pool breaks
    for good when one of its workers dies (every later job fails with ``BrokenProcessPool``),
    and a running pool task can be neither cancelled nor stopped at a time limit without killing
    a worker, which breaks the pool again. A job's own process can be terminated on its own
    (cancel, ``time_limit_s``), and when it dies only its job fails. A supervisor thread per
    server process claims queued jobs, collects results (through a pipe per job) and enforces
    the limits; it starts on first use, so a forked server worker starts its own. Workers
    exit with the server: :meth:`shutdown` (called by ``yizhan serve`` on SIGTERM/SIGINT)
    terminates them, and each worker watches its parent and exits when the server dies
    (``PR_SET_PDEATHSIG`` on Linux, plus a thread polling ``os.getppid()``).
    """

    #: Seconds a worker gets to exit after SIGTERM before it is killed.
    GRACE_S = 3.0
    #: Seconds between two heartbeats (and progress updates) of a runner's jobs.
    HEARTBEAT_S = 0.5
    #: A running job whose runner has not beaten for this long is failed.
    STALE_S = 30.0

    def __init__(
        self,
        root: Path,
        workers: int = 1,
        time_limit_s: float | None = None,
        per_user: int | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.root = Path(root)
        self.workers = max(1, int(workers))
        #: Seconds a job may run before it is stopped (``None`` or 0: no limit).
        self.time_limit_s = time_limit_s or None
        #: Unfinished jobs one user may have (``None`` or 0: no limit).
        self.per_user = per_user or None
        self._engine = engine
        self._store: JobStore | None = None
        self._token = secrets.token_hex(4)  # tells runners of one process apart
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._running: dict[str, _Worker] = {}
        self._supervisor: threading.Thread | None = None
        self._closed = False
        self._lost = 0  # workers that died or were stopped (killed, time limit, cancel)
        self._spawn_error: str | None = None

    # -- the shared store --------------------------------------------------------------

    @property
    def store(self) -> JobStore:
        """The job table (the shared database, or ``root/jobs.sqlite`` when not shared)."""
        if self._store is None:
            if self._engine is None:  # a library use: a table of its own beside the jobs
                self.root.mkdir(parents=True, exist_ok=True)
                self._engine = create_engine(f"sqlite:///{self.root / 'jobs.sqlite'}")
                schema.jobs.create(self._engine, checkfirst=True)
            self._store = JobStore(self._engine)
        return self._store

    @property
    def runner_id(self) -> str:
        """``host:pid:token`` of this runner (the pid read now: a forked worker has its own)."""
        return f"{HOST}:{os.getpid()}:{self._token}"

    @property
    def _under(self) -> str:
        return str(self.root.resolve()) + os.sep

    # -- creating and starting jobs ------------------------------------------------------

    def new(self, kind: str, owner: str, params: dict, parent: str | None = None) -> Job:
        """A job with a fresh id and an empty folder (for uploads), not started yet."""
        job_id = secrets.token_urlsafe(9)
        folder = self.root.resolve() / job_id
        (folder / "inputs").mkdir(parents=True, exist_ok=False)
        return Job(job_id, kind, owner, folder, params=params, parent=parent)

    def discard(self, job: Job) -> None:
        """Forget a job that was never started (its input was refused)."""
        shutil.rmtree(job.folder, ignore_errors=True)

    def check_quota(self, owner: str) -> None:
        """Raise :class:`geo.errors.RateLimited` (429) when ``owner`` already has
        ``per_user`` unfinished (queued or running) jobs, counted in the job table."""
        if not self.per_user:
            return
        unfinished = self.store.unfinished(owner)
        if unfinished >= self.per_user:
            raise RateLimited(
                f"您已有 {unfinished} 个分析在排队或运行（每人最多 {self.per_user} 个）："
                "请等它们完成，或取消其中一个后再提交",
                limit=self.per_user,
                unfinished=unfinished,
                retry_after=30,
            )

    def start(self, job: Job, task: Callable[..., tuple[str, object]], *args) -> Job:
        """Queue ``task(folder, *args)`` to run in its own worker process; it returns
        ``("done", result)`` or ``("failed", message)`` and reports progress into the job's
        folder."""
        job.state, job.stage = "queued", "queued"
        counts = self.store.counts(self._under)
        if counts["running"] + counts["queued"] >= self.workers:
            job.message = "排队中：其他分析正在运行"
        # The worker is a fresh process: it gets this process's kinds and services
        # (YIZHAN_EXTRA_KINDS, a settings object, register_kind) with the task.
        payload = pickle.dumps((Taxonomy.current(), task, str(job.folder), *args))
        job.save()
        self.store.queue(
            job.id,
            job.kind,
            job.owner,
            json.loads(json.dumps(job.params, default=json_default)),
            str(job.folder),
            payload,
            self.runner_id,
            parent=job.parent,
            created_at=job.created_at,
            message=job.message,
        )
        if self._closed:
            self._end(job.id, "failed", "服务器正在停止，请稍后重试")
            return self.get(job.id)
        with self._lock:
            self._ensure_supervisor()
            self._wake.notify_all()
        return job

    def cancel(self, job_id: str, owner: str | None = None) -> Job:
        """Cancel a job: a queued one never runs, a running one's worker is terminated by
        the runner that runs it (whichever process that is); its state becomes
        ``cancelled``. A finished job is left as it is."""
        job = self.get(job_id, owner=owner)
        if job.finished:
            return job
        state = self.store.request_cancel(job.id)
        if state == "cancelled":  # it was queued: it never ran
            return self._save(job.id)
        with self._lock:
            self._wake.notify_all()
        deadline = time.monotonic() + self.GRACE_S + 5
        while time.monotonic() < deadline:
            job = self.get(job.id)
            if job.finished:
                break
            time.sleep(0.05)
        if job.finished and job.state != "done":
            # The runner marks the row first and writes the folder after: write it here too,
            # so whoever reads the folder when this returns sees what the row says.
            return self._save(job.id)
        return job

    # -- the supervisor ----------------------------------------------------------------

    def _ensure_supervisor(self) -> None:
        """Start this process's supervisor thread (called with the lock held)."""
        if self._closed:
            return
        if self._supervisor is None or not self._supervisor.is_alive():
            self._supervisor = threading.Thread(
                target=self._supervise, name="yizhan-jobs", daemon=True
            )
            self._supervisor.start()

    def _supervise(self) -> None:
        """Claim queued jobs, collect finished ones, stop those over the limit or cancelled,
        beat for the running ones, fail the jobs of runners that are gone.

        Worker processes are started from this thread only: ``PR_SET_PDEATHSIG`` fires when
        the *thread* that started a process ends, and this one lives as long as the runner.
        """
        beaten = reaped = -math.inf
        while True:
            try:
                with self._lock:
                    if self._closed and not self._running:
                        return
                    free = self.workers - len(self._running)
                if free > 0 and not self._closed:
                    counts = self.store.counts(self._under)
                    while free > 0 and counts["queued"] and not self._closed:
                        claimed = self.store.claim(self.runner_id, self.workers, self._under)
                        if claimed is None:
                            break
                        self._launch(*claimed)
                        free -= 1
                with self._lock:
                    workers = list(self._running.values())
                if workers:
                    self._mark_stops(workers)
                for w in workers:
                    try:
                        self._check(w)
                    except Exception:  # pragma: no cover - keep supervising the others
                        LOGGER.exception("job %s: could not check its worker", w.job_id)
                if time.monotonic() - beaten >= self.HEARTBEAT_S:
                    beaten = time.monotonic()
                    self._beat()
                if time.monotonic() - reaped >= 1.0:
                    reaped = time.monotonic()
                    self._reap()
            except Exception:  # pragma: no cover - the database went away: try again
                LOGGER.exception("job runner: supervising failed, retrying")
            with self._lock:
                if self._closed and not self._running:
                    return
                self._wake.wait(0.2 if self._running else 0.5)

    def _launch(self, row: JobRow, payload: bytes) -> None:
        """Start a claimed job's worker process."""
        ctx = multiprocessing.get_context("spawn")  # the server has threads and DB connections
        receive, send = ctx.Pipe(duplex=False)
        try:
            args = pickle.loads(payload)
            process = ctx.Process(
                target=_worker_main,
                args=(send, os.getpid(), *args),
                name=f"yizhan-job-{row.id}",
                daemon=True,
            )
            process.start()
        except Exception as exc:  # pragma: no cover - no process could be started
            LOGGER.exception("job %s could not start", row.id)
            self._spawn_error = str(exc)
            receive.close()
            send.close()
            self._end(row.id, "failed", "无法启动后台任务，请稍后重试")
            return
        send.close()  # the worker holds the sending end: EOF here when it dies
        self._spawn_error = None
        deadline = time.monotonic() + self.time_limit_s if self.time_limit_s else None
        with self._lock:
            self._running[row.id] = _Worker(row.id, Path(row.folder), process, receive, deadline)
        self.store.started(row.id, process.pid or 0)
        LOGGER.info("job %s started in process %s", row.id, process.pid)

    def _mark_stops(self, workers: list[_Worker]) -> None:
        """Stop the local workers whose job was cancelled (through any process) or ended."""
        rows = {r.id: r for r in self.store.mine(self.runner_id)}
        for w in workers:
            row = rows.get(w.job_id)
            if w.stop is not None:
                continue
            if row is None:  # failed as stale by another runner, or gone
                w.stop = ("failed", RUNNER_DIED)
            elif row.cancel_requested:
                w.stop = ("cancelled", "已取消")

    def _check(self, w: _Worker) -> None:
        """Collect ``w``'s result if it has one; stop it if cancelled or over its limit."""
        outcome = _receive(w.conn)
        if outcome is None and w.stop is None:
            if w.deadline is not None and time.monotonic() > w.deadline:
                w.stop = ("failed", f"超过时间限制（{self.time_limit_s:g} 秒），已停止")
                w.lost = True
            elif w.process.is_alive():
                return
            else:  # it may have answered just before it exited
                outcome = _receive(w.conn)
        if outcome is not None:
            w.process.join(5)
            state, value = outcome
        elif w.stop is not None:
            _terminate(w.process, self.GRACE_S)
            state, value = w.stop
        else:
            w.process.join(1)
            LOGGER.error(
                "job %s: worker process %s died (exit code %s)",
                w.job_id,
                w.process.pid,
                w.process.exitcode,
            )
            state, value = "failed", WORKER_DIED
            w.lost = True
        w.conn.close()
        if state == "done":
            self._end(w.job_id, "done", "", result=value)  # type: ignore[arg-type]
        else:
            self._end(w.job_id, state, str(value))
        with self._lock:
            self._lost += int(w.lost)
            self._running.pop(w.job_id, None)
            self._wake.notify_all()

    def _end(self, job_id: str, state: str, message: str, result: dict | None = None) -> None:
        """Finish a job in the table and in its folder (``job.json``; partial outputs of a
        job that did not finish are removed)."""
        row = self.store.get(job_id)
        if row is None:  # pragma: no cover - rows are never deleted
            return
        if state == "done":  # the result first: a reader who sees "done" finds it
            job = Job.of(row)
            job.state, job.stage, job.fraction, job.message = "done", "done", 1.0, ""
            job.finished_at = datetime.now(UTC)
            job.result = result
            job.save()
        if self.store.finish(job_id, state, message) or state != "done":
            LOGGER.info("job %s %s", job_id, state)
        row = self.store.get(job_id)
        if row is not None and row.state != "done":
            _remove_outputs(Path(row.folder))
            self._save(job_id)

    def _save(self, job_id: str) -> Job:
        """Write the job's ``job.json`` from its row (a job that did not finish)."""
        row = self.store.get(job_id)
        assert row is not None
        job = Job.of(row)
        job.save()
        return job

    def _beat(self) -> None:
        """Stamp this runner's running jobs and write their progress to the table."""
        with self._lock:
            workers = list(self._running.values())
        progress = {}
        for w in workers:
            doc = _progress(w.folder)
            if doc is not None:
                progress[w.job_id] = (str(doc.get("stage", "")), float(doc.get("fraction", 0)))
        if workers:
            self.store.beat(self.runner_id, progress)

    def _reap(self) -> None:
        """Fail the running jobs of runners that are gone (heartbeat too old, or a process
        of this host that has ended); their folders keep their inputs and ``job.json``."""
        runners = self.store.runners()
        dead = [r for r in runners if _ended(r)]
        cutoff = datetime.now(UTC) - timedelta(seconds=self.STALE_S)
        if not dead and all(beat is None or beat >= cutoff for beat in runners.values()):
            return  # nothing to fail: no write
        for job_id in self.store.fail_stale(self.STALE_S, RUNNER_DIED, dead):
            row = self.store.get(job_id)
            LOGGER.warning("job %s failed: its runner %s is gone", job_id, row and row.runner)
            if row is not None:
                _remove_outputs(Path(row.folder))
                self._save(job_id)

    # -- state for the pages -----------------------------------------------------------

    def get(self, job_id: str, owner: str | None = None, kind: str | None = None) -> Job:
        """A job by id (from the table, else from a folder of before the table);
        ``NotFound`` for another owner."""
        job = None
        if isinstance(job_id, str) and JOB_ID.match(job_id):
            with self._lock:
                self._ensure_supervisor()
            row = self.store.get(job_id)
            if row is not None and Path(row.folder).parent == self.root.resolve():
                job = Job.of(row)
                if job.state == "done":
                    job.result = _result(job.folder)
            elif row is None and (self.root / job_id / "job.json").is_file():
                job = Job.load(self.root / job_id)
        if job is None or (owner is not None and job.owner != owner) or (kind and job.kind != kind):
            raise NotFound(f"没有编号为 {job_id} 的分析任务")
        return job

    def recent(self, owner: str, limit: int = 20) -> list[Job]:
        """The owner's jobs, newest first."""
        with self._lock:
            self._ensure_supervisor()
        under = self.root.resolve()
        return [
            Job.of(r) for r in self.store.recent(owner, limit * 4) if Path(r.folder).parent == under
        ][:limit]

    def worker_pid(self, job_id: str) -> int | None:
        """The process id of a running job's worker (``None`` when it is not running)."""
        row = self.store.get(job_id)
        return row.worker_pid if row is not None and row.state == "running" else None

    def health(self) -> dict:
        """The runner's state for ``/healthz``: ``workers`` (job slots), ``running``,
        ``queued`` (in every server process), ``lost`` (workers of this process that died or
        were stopped and replaced), ``pool`` (``ok``; ``rebuilt`` once a worker was lost and
        replaced; ``broken`` when no worker process can be started or the runner is shut
        down) and ``ok``."""
        with self._lock:
            self._ensure_supervisor()
            broken = self._closed or self._spawn_error is not None
            lost = self._lost
        counts = self.store.counts(self._under)
        pool = "broken" if broken else ("rebuilt" if lost else "ok")
        return {
            "workers": self.workers,
            "running": counts["running"],
            "queued": counts["queued"],
            "lost": lost,
            "pool": pool,
            "ok": not broken,
        }

    # -- stopping ----------------------------------------------------------------------

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop this process's runner: the jobs it queued that nobody claimed are failed,
        its running workers terminated (then killed) and joined; their jobs are marked
        failed and their partial outputs removed. Other processes' jobs are left alone."""
        message = "服务器已停止，分析被中断，请重新运行"
        with self._lock:
            if self._closed and not self._running:
                return
            self._closed = True
            workers = list(self._running.values())
            for w in workers:
                w.stop = ("failed", message)
            self._wake.notify_all()
        try:
            for job_id in self.store.fail_queued_by(self.runner_id, message):
                self._save(job_id)
        except Exception:  # pragma: no cover - the database is gone: stop the processes
            LOGGER.exception("job runner: could not fail the queued jobs")
        for w in workers:
            w.process.terminate()
        supervisor = self._supervisor
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join(timeout_s + self.GRACE_S)
        with self._lock:  # the supervisor did not get to them: do it here
            leftovers = list(self._running.values())
        for w in leftovers:
            _terminate(w.process, 0.5)
            with self._lock:
                if self._running.pop(w.job_id, None) is None:
                    continue
            w.conn.close()
            with contextlib.suppress(Exception):
                self._end(w.job_id, "failed", message)


@dataclass
class _Worker:
    job_id: str
    folder: Path
    process: BaseProcess
    conn: Connection
    deadline: float | None
    #: ``(state, message)`` once the worker is to be stopped (cancel, time limit, shutdown).
    stop: tuple[str, str] | None = None
    #: The worker died or was stopped at the time limit (counted as ``lost``).
    lost: bool = False


#: This machine's name, the first part of a runner's id.
HOST = socket.gethostname()


def _ended(runner: str) -> bool:
    """Whether ``runner`` (``host:pid:token``) is a process of this host that has ended."""
    host, _, rest = runner.partition(":")
    pid = rest.split(":", 1)[0]
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # pragma: no cover - another user's process with that pid
        return False
    return False


def _progress(folder: Path) -> dict | None:
    """A running job's ``progress.json`` (written by its worker), if readable."""
    try:
        return json.loads((folder / "progress.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _result(folder: Path) -> dict | None:
    """A finished job's result, from its ``job.json``."""
    try:
        return json.loads((folder / "job.json").read_text(encoding="utf-8")).get("result")
    except (OSError, ValueError):
        return None


def _receive(conn: Connection) -> tuple[str, object] | None:
    """The worker's ``(state, value)`` if it sent it, else ``None`` (not yet, or it died)."""
    try:
        if conn.poll():
            return conn.recv()
    except (EOFError, OSError):
        pass
    return None


def _terminate(process: BaseProcess, grace_s: float) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; always joined."""
    if process.exitcode is None:
        process.terminate()
        process.join(grace_s)
    if process.exitcode is None:
        process.kill()
        process.join(5)


#: What a job's folder keeps when it did not finish: its inputs and ``job.json``.
_KEEP = {"inputs", "job.json"}


def _remove_outputs(folder: Path) -> None:
    """Remove the partial outputs of a job that did not finish (its files match its state)."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name in _KEEP or path.name.startswith(f"job.json.{os.getpid()}."):
            continue  # kept, or being written by a thread of this process (Job.save)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# ------------------------------------------------------------------------------------------
# The work of the two job kinds: call geo.workflows, return the JSON result.


def _records(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", force_ascii=False))


class _Progress:
    """The worker's progress callback: writes ``progress.json`` in the job's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started_at = datetime.now(UTC).isoformat()
        self.fraction = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        self.fraction = max(self.fraction, min(1.0, float(fraction)))
        doc = {"stage": stage, "fraction": self.fraction, "started_at": self.started_at}
        tmp = self.folder / "progress.json.tmp"
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        tmp.replace(self.folder / "progress.json")


def _execute(work, folder: str, *args) -> tuple[str, object]:
    """Run ``work(folder, progress, *args)`` in the worker: ``("done", result)`` or
    ``("failed", message)``; unexpected errors are logged with their trace."""
    path = Path(folder)
    progress = _Progress(path)
    progress("starting", 0.0)
    try:
        return "done", work(path, progress, *args)
    except YizhanError as exc:
        return "failed", exc.message
    except Exception:
        logging.basicConfig()
        LOGGER.exception("planner job in %s failed", folder)
        return "failed", "内部错误：运行失败，已记录日志，请联系管理员"


def _in_worker(taxonomy: Taxonomy, task: Callable[..., tuple[str, object]], *args):
    """Install the server's taxonomy, then run ``task(*args)``."""
    taxonomy.install()
    return task(*args)


def _worker_main(conn: Connection, parent_pid: int, *args) -> None:
    """A job's worker process: exit with the server, run the task, send its outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C: the server stops its workers
    _exit_with_parent(parent_pid)
    try:
        outcome = _in_worker(*args)
    except BaseException:  # pragma: no cover - _execute already catches what a task raises
        logging.basicConfig()
        LOGGER.exception("planner job worker failed")
        outcome = ("failed", "内部错误：运行失败，已记录日志，请联系管理员")
    conn.send(outcome)
    conn.close()


#: ``prctl`` option: the signal a process gets when its parent ends (Linux).
PR_SET_PDEATHSIG = 1


def _exit_with_parent(parent_pid: int, poll_s: float = 0.5) -> None:
    """End this process when ``parent_pid`` (the server) ends, however it ends.

    On Linux the kernel sends SIGKILL (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon
    thread polls ``os.getppid()`` (an orphan is re-parented) and exits the process.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread only
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(poll_s)

    if os.getppid() != parent_pid:  # the server died before prctl
        os._exit(1)
    threading.Thread(target=watch, name="yizhan-parent-watch", daemon=True).start()


def coverage_task(folder: str, *args) -> tuple[str, object]:
    """A coverage job (worker process): ``args`` are db_url, instance_path, params dict."""
    return _execute(_coverage, folder, *args)


def plan_task(folder: str, *args) -> tuple[str, object]:
    """A plan job (worker process): ``args`` are db_url, params dict, scenario or None."""
    return _execute(_plan, folder, *args)


def _map_notices(params: dict) -> dict[str, str]:
    """The deployment's map approval number (审图号) and ICP record for the report maps,
    handed over with the job's parameters (``map_notices``)."""
    notices = params.get("map_notices") or {}
    return {k: str(notices.get(k) or "") for k in ("map_approval", "icp")}


def _uploads_readable(params: dict) -> None:
    """Install the server's table limits in this worker, then read the job's uploaded tables
    (the request only saved them): an unusable file fails the job with its message."""
    from geo.demand.points import read_township_table
    from geo.tables import set_table_limits

    set_table_limits(params.get("table_limits"))
    if params.get("township_table"):
        try:
            read_township_table(params["township_table"], params["region"])
        except YizhanError as exc:
            raise ValidationError(
                f"乡镇表无法使用：{exc.message}", field="township_table"
            ) from None


def check_candidates(params) -> None:
    """Read an uploaded candidates file (:class:`geo.workflows.PlanParams`) and refuse it for
    what the plan needs: a cost per site for a budget plan, at least K sites."""
    from geo import candidates as cand

    if not params.candidates:
        return
    try:
        sites = cand.from_file(params.candidates)
    except YizhanError as exc:
        raise ValidationError(f"候选点文件无法使用：{exc.message}", field="candidates") from None
    if params.budget is not None and params.cost_per_site is None and sites["cost"].isna().any():
        raise ValidationError(
            "预算规划需要每个候选点的费用：文件中缺少 cost/建设费用 列的值", field="candidates"
        )
    if params.add is not None and params.add > len(sites):
        raise ValidationError(
            f"新增站点数 K = {params.add} 超过候选点数量 {len(sites)}",
            field="k",
            candidates=len(sites),
        )


def _coverage(folder: Path, progress, db_url: str, instance_path: str, params: dict) -> dict:
    from geo.store import StationRepository
    from geo.workflows import CoverageParams, run_coverage, write_coverage_outputs

    _uploads_readable(params)
    repo = StationRepository.from_url(db_url)
    try:  # the store, not repo.all(): only the stations within reach of the region are read
        run = run_coverage(
            CoverageParams.from_dict(params),
            repo,
            progress=progress,
            cache_dir=Path(instance_path) / "graphs",
        )
    finally:
        repo.engine.dispose()
    result = run.result
    files = write_coverage_outputs(
        run, folder, layers=True, progress=progress, **_map_notices(params)
    )
    return {
        "summary": result.summary(),
        "by_county": _records(result.by_admin("county")),
        "by_township": _records(result.by_admin("township")),
        "layers": _layers(files),
        "files": sorted(p.name for k, p in files.items() if not k.startswith("layer_")),
        "bounds": [float(x) for x in result.cells.total_bounds],
    }


def _layers(files: dict[str, Path]) -> dict[str, str]:
    return {k.removeprefix("layer_"): p.name for k, p in files.items() if k.startswith("layer_")}


def _plan(folder: Path, progress, db_url: str, params: dict, scenario: dict | None) -> dict:
    from geo.report import chosen_sites
    from geo.store import ScenarioRepository, StationRepository
    from geo.workflows import PlanParams, run_plan, write_plan_outputs

    _uploads_readable(params)
    notices = _map_notices(params)
    params = PlanParams.from_dict(params)
    check_candidates(params)
    repo = StationRepository.from_url(db_url)
    try:
        run = run_plan(params, repo, progress=progress)
        files = write_plan_outputs(run, folder, layers=True, progress=progress, **notices)
        layers = _layers(files)
        layers["chosen"] = files["geojson"].name
        sites = chosen_sites(run.plan, run.candidates)
        before, after = run.before.by_admin("county"), run.after.by_admin("county")
        merged = before[["code", "name", "demand", "covered", "share"]].merge(
            after[["code", "covered", "share"]], on="code", suffixes=("_before", "_after")
        )
        result = {
            "summary": run.summary(),
            "plan": run.plan.to_dict(),
            "model": run.before.record["model"],
            "demand_source": run.demand_source,
            "candidates": {"count": len(run.candidates), "source": run.candidates["source"].iat[0]},
            "coverage_before": run.before.summary()["thresholds"],
            "coverage_after": run.after.summary()["thresholds"],
            "chosen_sites": _records(
                sites[["rank", "id", "name", "lon", "lat", "gain", "share_after", "cost"]]
            ),
            "by_county": _records(merged),
            "layers": layers,
            "files": sorted(p.name for k, p in files.items() if not k.startswith("layer_")),
            "bounds": [float(x) for x in run.after.cells.total_bounds],
        }
        if scenario:  # a re-run: the scenario keeps the new result
            ScenarioRepository(repo.engine, repo.revision).save(
                scenario["name"],
                scenario["params"],
                result["summary"],
                repo.revision(),
                scenario_id=scenario["id"],
            )
        return result
    finally:
        repo.engine.dispose()


# -- status text of the pages (labels only) ------------------------------------------------

#: A job's state as the planner pages name it (Chinese; both languages in
#: :data:`webapp.planner_text.JOB_STATES`).
STATE_LABELS = {k: v[0] for k, v in planner_text.JOB_STATES.items()}
#: The stages a worker reports (:class:`_Progress`), as the planner pages name them (Chinese;
#: both languages in :data:`webapp.planner_text.JOB_STAGES`).
STAGE_LABELS = {k: v[0] for k, v in planner_text.JOB_STAGES.items()}


def status_text(job: Job, stages: dict[str, str] | None = None, lang: str = "zh") -> dict[str, str]:
    """``{"title", "text"}`` of a job for its page in ``lang``: the state (排队中, 正在运行 …)
    and a line with the stage and progress, e.g. ``{"title": "正在运行", "text":
    "计算出行时间（60%）"}`` (English: ``{"title": "Running", "text": "Computing travel
    times (60%)"}``).

    A job that has reported progress is running whatever its last stored state says, so the
    title never says 排队中 beside a progress of 60 %. A stored message (Chinese) is
    translated by :func:`webapp.planner_text.job_message`.
    """
    en = planner_text.lang_of(lang) == "en"
    if stages is None:
        stages = {k: planner_text.pick(v, lang) for k, v in planner_text.JOB_STAGES.items()}
    state = job.state
    if state == "queued" and (job.fraction > 0 or job.stage not in ("queued", "")):
        state = "running"
    title = planner_text.pick(planner_text.JOB_STATES.get(state), lang, state)
    pct = f"{round(job.fraction * 100)}%"
    if state == "queued":
        text = stages.get("queued", "")
    elif state == "running":
        stage = stages.get(job.stage, job.stage)
        text = f"{stage} ({pct})" if en else f"{stage}（{pct}）"
    elif state == "done":
        text = "Done (100%)" if en else "已完成（100%）"
    else:
        text = planner_text.job_message(job.message, lang) or title
    return {"title": title, "text": text}
