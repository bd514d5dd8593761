"""Background jobs of the planner pages: coverage and plan runs that do not block the server.

A :class:`JobRunner` owns a pool of ``YIZHAN_PLANNER_JOBS`` worker processes. A job is
created (``new``: an id and a folder under the planner directory, where uploads go), then
started (``start``) with a task function run in a worker; the pages poll the job's JSON twin
for its state (``queued`` while every worker is busy, ``running``, ``done``, ``failed``),
stage and progress fraction. Results are files in the job's folder plus ``job.json`` (state
and the JSON result), so downloads and result pages keep working after a restart.

Processes, not threads: a step such as serialising 25,000 cells to JSON holds the GIL for
seconds, which would stall every request thread. Workers are *spawned* (the server has
threads and open database connections, which ``fork`` would copy half-way), open their own
database connection, and report progress by writing ``progress.json`` into the job's folder,
which the server reads when a page polls. Each task carries the server's taxonomy
(:class:`geo.workflows.Taxonomy`) and installs it in the worker before it runs, so a kind added
by configuration is known there too. A job that fails with a
:class:`geo.errors.YizhanError` shows its message; any other exception is logged with its
trace in the worker and shown as an internal error.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from geo.coverage import json_default
from geo.errors import NotFound, ValidationError, YizhanError
from geo.workflows import Taxonomy

LOGGER = logging.getLogger(__name__)
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
STATES = ("queued", "running", "done", "failed")


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
        return self.state in ("done", "failed")

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
        tmp = self.folder / "job.json.tmp"
        tmp.write_text(json.dumps(doc, ensure_ascii=False, default=json_default), encoding="utf-8")
        tmp.replace(self.folder / "job.json")

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
    """A bounded process pool running jobs in the background, with their state for the pages."""

    def __init__(self, root: Path, workers: int = 1) -> None:
        self.root = Path(root)
        self.workers = max(1, int(workers))
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._active = 0

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the server has threads and open database connections.
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
                )
            return self._executor

    def new(self, kind: str, owner: str, params: dict, parent: str | None = None) -> Job:
        """A job with a fresh id and an empty folder (for uploads), not started yet."""
        job_id = secrets.token_urlsafe(9)
        folder = self.root / job_id
        (folder / "inputs").mkdir(parents=True, exist_ok=False)
        return Job(job_id, kind, owner, folder, params=params, parent=parent)

    def discard(self, job: Job) -> None:
        """Forget a job that was never started (its input was refused)."""
        shutil.rmtree(job.folder, ignore_errors=True)

    def start(self, job: Job, task: Callable[..., tuple[str, object]], *args) -> Job:
        """Run ``task(folder, *args)`` in a worker process; it returns ``("done", result)``
        or ``("failed", message)`` and reports progress into the job's folder."""
        with self._lock:
            self._jobs[job.id] = job
            self._active += 1
            job.state, job.stage = "queued", "queued"
            if self._active > self.workers:
                job.message = "排队中：其他分析正在运行"
        job.save()
        try:
            # The worker is a fresh process: it gets this process's kinds and services
            # (YIZHAN_EXTRA_KINDS, a settings object, register_kind) with the task.
            future = self._pool().submit(
                _in_worker, Taxonomy.current(), task, str(job.folder), *args
            )
        except Exception:  # pragma: no cover - the pool could not start a process
            LOGGER.exception("job %s could not start", job.id)
            self._finish(job, "failed", "无法启动后台任务，请稍后重试")
            return job
        future.add_done_callback(lambda f: self._done(job, f))
        return job

    def _done(self, job: Job, future) -> None:
        try:
            state, value = future.result()
        except Exception:  # the worker process died (memory, killed): say so plainly
            LOGGER.exception("job %s: worker failed", job.id)
            state, value = "failed", "内部错误：后台进程异常退出，请联系管理员"
        self._refresh(job)
        if state == "done":
            job.result = value
            self._finish(job, "done", "")
        else:
            self._finish(job, "failed", str(value))

    def _finish(self, job: Job, state: str, message: str) -> None:
        job.state, job.message = state, message
        if state == "done":
            job.stage, job.fraction = "done", 1.0
        job.finished_at = datetime.now(UTC)
        job.started_at = job.started_at or job.finished_at
        with self._lock:
            self._active -= 1
        job.save()
        LOGGER.info("job %s %s", job.id, state)

    @staticmethod
    def _refresh(job: Job) -> None:
        """Read the worker's progress file into an unfinished job."""
        if job.finished:
            return
        try:
            doc = json.loads((job.folder / "progress.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        job.state, job.message = "running", ""
        job.stage, job.fraction = doc.get("stage", job.stage), float(doc.get("fraction", 0))
        job.started_at = _parse(doc.get("started_at")) or job.started_at

    def get(self, job_id: str, owner: str | None = None, kind: str | None = None) -> Job:
        """A job by id (from memory, else from its folder); ``NotFound`` for another owner."""
        job = self._jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None and isinstance(job_id, str) and JOB_ID.match(job_id):
            folder = self.root / job_id
            if (folder / "job.json").is_file():
                job = Job.load(folder)
                with self._lock:
                    job = self._jobs.setdefault(job_id, job)
        if job is None or (owner is not None and job.owner != owner) or (kind and job.kind != kind):
            raise NotFound(f"没有编号为 {job_id} 的分析任务")
        self._refresh(job)
        return job

    def recent(self, owner: str, limit: int = 20) -> list[Job]:
        """The owner's jobs of this server run, newest first."""
        jobs = [j for j in list(self._jobs.values()) if j.owner == owner]
        for j in jobs:
            self._refresh(j)
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


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
    """The worker's entry: install the server's taxonomy, then run ``task(*args)``."""
    taxonomy.install()
    return task(*args)


def coverage_task(folder: str, *args) -> tuple[str, object]:
    """A coverage job (worker process): ``args`` are db_url, instance_path, params dict."""
    return _execute(_coverage, folder, *args)


def plan_task(folder: str, *args) -> tuple[str, object]:
    """A plan job (worker process): ``args`` are db_url, params dict, scenario or None."""
    return _execute(_plan, folder, *args)


def _stations(db_url: str):
    from geo.store import StationRepository

    repo = StationRepository.from_url(db_url)
    try:
        return repo.all()
    finally:
        repo.engine.dispose()


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
    from geo.workflows import CoverageParams, run_coverage, write_coverage_outputs

    _uploads_readable(params)
    run = run_coverage(
        CoverageParams.from_dict(params),
        _stations(db_url),
        progress=progress,
        cache_dir=Path(instance_path) / "graphs",
    )
    result = run.result
    files = write_coverage_outputs(run, folder, layers=True, progress=progress)
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
    params = PlanParams.from_dict(params)
    check_candidates(params)
    repo = StationRepository.from_url(db_url)
    try:
        run = run_plan(params, repo.all(), progress=progress)
        files = write_plan_outputs(run, folder, layers=True, progress=progress)
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
