"""The planner's job queue in the database (table ``jobs``), shared by every server process.

A job is a row: who owns it, what to run (``task``, pickled by the web layer), its state
(``queued`` → ``running`` → ``done`` | ``failed`` | ``cancelled``), stage, progress and
message, which server process runs it (``runner``, ``"host:pid"``) and that process's last
sign of life (``heartbeat_at``). Any process may queue, read, list, count and cancel a job;
a process runs a job only after it **claimed** it: one statement turns the oldest queued row
into ``running`` while fewer than the allowed number run (PostgreSQL: the queued row is
picked ``FOR UPDATE SKIP LOCKED`` under a transaction-scoped advisory lock, so the count and
the claim cannot interleave; SQLite: the single ``UPDATE … WHERE id = (SELECT …)`` runs
under SQLite's one writer lock). A running job whose runner stopped beating is failed by
whichever process notices (:meth:`JobStore.fail_stale`).

No Flask here: :mod:`webapp.jobs` starts and watches the job processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.store.schema import jobs

#: States of a job that is over.
FINISHED = ("done", "failed", "cancelled")
#: The advisory lock key (PostgreSQL) that serialises claims: "yizhan jobs".
CLAIM_LOCK = 0x59494A42


def now() -> datetime:
    """The current time in UTC (every stored time)."""
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class JobRow:
    """One row of ``jobs`` as read (times in UTC)."""

    id: str
    kind: str
    owner: str
    parent: str | None
    params: dict
    state: str
    stage: str
    fraction: float
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    runner: str | None
    worker_pid: int | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    folder: str

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @classmethod
    def of(cls, row: Any) -> JobRow:
        m = row._mapping
        return cls(
            id=m["id"],
            kind=m["kind"],
            owner=m["owner"],
            parent=m["parent"],
            params=m["params"] or {},
            state=m["state"],
            stage=m["stage"] or "",
            fraction=float(m["fraction"] or 0.0),
            message=m["message"] or "",
            created_at=_aware(m["created_at"]) or now(),
            started_at=_aware(m["started_at"]),
            finished_at=_aware(m["finished_at"]),
            runner=m["runner"],
            worker_pid=m["worker_pid"],
            heartbeat_at=_aware(m["heartbeat_at"]),
            cancel_requested=bool(m["cancel_requested"]),
            folder=m["folder"],
        )


_COLUMNS = [c for c in jobs.c if c.name != "task"]


class JobStore:
    """The ``jobs`` table: queue, claim, progress, cancel, finish, stale runners."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writing --------------------------------------------------------------------------

    def queue(
        self,
        job_id: str,
        kind: str,
        owner: str,
        params: dict,
        folder: str,
        task: bytes,
        runner: str,
        parent: str | None = None,
        created_at: datetime | None = None,
        message: str = "",
    ) -> None:
        """Add a queued job (``task``: what the runner that claims it will run)."""
        with self.engine.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id,
                    kind=kind,
                    owner=owner,
                    parent=parent,
                    params=params,
                    state="queued",
                    stage="queued",
                    fraction=0.0,
                    message=message,
                    created_at=created_at or now(),
                    runner=runner,
                    cancel_requested=False,
                    folder=folder,
                    task=task,
                )
            )

    def claim(self, runner: str, limit: int, under: str = "") -> tuple[JobRow, bytes] | None:
        """Turn the oldest queued job into ``running`` for ``runner`` while fewer than
        ``limit`` jobs run (in every process); ``None`` when nothing can start.

        ``under``: only jobs whose folder starts with it count and are claimed (the planner
        folder of one deployment; several may share a database)."""
        c = jobs.c
        stamp = now()
        mine = c.folder.startswith(under, autoescape=True)
        running = sa.select(sa.func.count()).select_from(jobs).where(c.state == "running", mine)
        oldest = (
            sa.select(c.id).where(c.state == "queued", mine).order_by(c.created_at, c.id).limit(1)
        )
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK)))
                oldest = oldest.with_for_update(skip_locked=True)
            statement = (
                jobs.update()
                .where(c.id == oldest.scalar_subquery(), running.scalar_subquery() < limit)
                .values(
                    state="running",
                    stage="starting",
                    message="",
                    runner=runner,
                    started_at=stamp,
                    heartbeat_at=stamp,
                )
                .returning(*_COLUMNS, c.task)
            )
            row = conn.execute(statement).first()
        if row is None:
            return None
        return JobRow.of(row), row._mapping["task"]

    def started(self, job_id: str, worker_pid: int) -> None:
        """Record the pid of the job's own process."""
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(worker_pid=worker_pid))

    def beat(self, runner: str, progress: dict[str, tuple[str, float]]) -> None:
        """``runner`` is alive: stamp its running jobs; ``progress``: job id → (stage,
        fraction) read from the job processes."""
        c = jobs.c
        stamp = now()
        with self.engine.begin() as conn:
            conn.execute(
                jobs.update()
                .where(c.runner == runner, c.state == "running")
                .values(heartbeat_at=stamp)
            )
            for job_id, (stage, fraction) in progress.items():
                conn.execute(
                    jobs.update()
                    .where(c.id == job_id, c.state == "running")
                    .values(stage=stage, fraction=fraction)
                )

    def request_cancel(self, job_id: str) -> str:
        """Cancel a job: a queued one at once (it never runs), a running one by asking its
        runner. Returns the job's state after the call (a finished job is left alone)."""
        c = jobs.c
        stamp = now()
        with self.engine.begin() as conn:
            done = conn.execute(
                jobs.update()
                .where(c.id == job_id, c.state == "queued")
                .values(state="cancelled", message="已取消", finished_at=stamp, task=None)
            ).rowcount
            if done:
                return "cancelled"
            conn.execute(
                jobs.update()
                .where(c.id == job_id, c.state == "running")
                .values(cancel_requested=True)
            )
            return conn.execute(sa.select(c.state).where(c.id == job_id)).scalar() or "unknown"

    def finish(self, job_id: str, state: str, message: str, stage: str | None = None) -> bool:
        """End an unfinished job (``done``, ``failed`` or ``cancelled``); ``False`` when it
        had already ended."""
        c = jobs.c
        values: dict[str, Any] = {
            "state": state,
            "message": message,
            "finished_at": now(),
            "task": None,
            "worker_pid": None,
        }
        if state == "done":
            values.update(stage="done", fraction=1.0)
        elif stage is not None:
            values["stage"] = stage
        with self.engine.begin() as conn:
            result = conn.execute(
                jobs.update()
                .where(c.id == job_id, c.state.in_(("queued", "running")))
                .values(**values)
            )
            return bool(result.rowcount)

    def fail_stale(
        self, stale_after_s: float, message: str, dead_runners: Iterable[str] = ()
    ) -> list[str]:
        """Fail running jobs whose runner is gone: no heartbeat for ``stale_after_s``, or
        the runner is one of ``dead_runners`` (processes known to have ended). Returns the
        ids failed."""
        c = jobs.c
        cutoff = now() - timedelta(seconds=stale_after_s)
        dead = list(dead_runners)
        gone = c.heartbeat_at < cutoff
        if dead:
            gone = sa.or_(gone, c.runner.in_(dead))
        with self.engine.begin() as conn:
            rows = conn.execute(
                jobs.update()
                .where(c.state == "running", gone)
                .values(
                    state="failed", message=message, finished_at=now(), task=None, worker_pid=None
                )
                .returning(c.id)
            ).all()
        return [r[0] for r in rows]

    def fail_queued_by(self, runner: str, message: str) -> list[str]:
        """Fail the jobs ``runner`` queued that nobody claimed (it is stopping)."""
        c = jobs.c
        with self.engine.begin() as conn:
            rows = conn.execute(
                jobs.update()
                .where(c.runner == runner, c.state == "queued")
                .values(state="failed", message=message, finished_at=now(), task=None)
                .returning(c.id)
            ).all()
        return [r[0] for r in rows]

    # -- reading --------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_COLUMNS).where(jobs.c.id == job_id)).first()
        return JobRow.of(row) if row is not None else None

    def runners(self) -> dict[str, datetime | None]:
        """The runners of the running jobs, each with its oldest heartbeat (a read only: the
        caller fails stale ones with :meth:`fail_stale` when there are any)."""
        c = jobs.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.runner, sa.func.min(c.heartbeat_at))
                .where(c.state == "running")
                .group_by(c.runner)
            ).all()
        return {r[0]: _aware(r[1]) for r in rows if r[0]}

    def mine(self, runner: str) -> list[JobRow]:
        """The running jobs ``runner`` claimed."""
        c = jobs.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*_COLUMNS).where(c.runner == runner, c.state == "running")
            ).all()
        return [JobRow.of(r) for r in rows]

    def recent(self, owner: str, limit: int = 20) -> list[JobRow]:
        """``owner``'s jobs, newest first."""
        c = jobs.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*_COLUMNS)
                .where(c.owner == owner)
                .order_by(c.created_at.desc(), c.id)
                .limit(limit)
            ).all()
        return [JobRow.of(r) for r in rows]

    def unfinished(self, owner: str) -> int:
        """How many of ``owner``'s jobs are queued or running (the per-user quota)."""
        c = jobs.c
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count())
                .select_from(jobs)
                .where(c.owner == owner, c.state.in_(("queued", "running")))
            ).scalar_one()

    def counts(self, under: str = "") -> dict[str, int]:
        """Jobs per unfinished state, in every process: ``{"queued": n, "running": m}``
        (``under``: of the folders that start with it, as :meth:`claim`)."""
        c = jobs.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.state, sa.func.count())
                .where(
                    c.state.in_(("queued", "running")),
                    c.folder.startswith(under, autoescape=True),
                )
                .group_by(c.state)
            ).all()
        found = {state: int(n) for state, n in rows}
        return {"queued": found.get("queued", 0), "running": found.get("running", 0)}
