"""The production server of ``yizhan serve``: waitress tuned for many keep-alive clients, or
gunicorn forking several workers (``--workers N``, :func:`serve_workers`).

This module owns how the app is served (not what it answers): the waitress options taken
from the settings (:class:`webapp.settings.WebSettings`: connection limit, threads, idle
timeout, listen backlog), the open-file limit they need, load shedding and readable logs.

* **Connections.** waitress stops accepting at ``connection_limit`` open connections
  (default 100) and keeps kept-alive connections open until they are idle for
  ``channel_timeout``: clients beyond the limit wait unanswered in the kernel's backlog.
  :func:`serve` sets the limit from ``YIZHAN_CONNECTION_LIMIT``, uses ``poll()`` (``select()``
  fails past 1,024 descriptors) and raises the soft ``RLIMIT_NOFILE`` up to the hard limit
  when the connection limit needs it.
* **Load shedding.** :class:`SheddingDispatcher` is waitress's task queue with a bound:
  when ``YIZHAN_MAX_QUEUE`` requests already wait for a worker thread, a new one is put at
  the *front* of the queue marked "shed", and :class:`ShedMiddleware` answers it at once with
  ``503`` and ``Retry-After`` instead of running the app. A client is answered (or refused)
  within milliseconds rather than waiting behind an unbounded queue until it times out.
* **Logs.** waitress warns "Task queue depth is N" for every request that finds all threads
  busy (tens of thousands of lines under load). :class:`SummaryFilter` lets the first line
  of each interval through and folds the others into a count on the next one that passes.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from waitress.task import ThreadedTaskDispatcher

from webapp.errors import JSON_PREFIXES
from webapp.settings import WebSettings

LOGGER = logging.getLogger("yizhan.serve")
QUEUE_LOGGER = "waitress.queue"
SUMMARY_INTERVAL_S = 10.0
RETRY_AFTER_S = 1
FD_HEADROOM = 64  # database, log, listening socket, job files on top of the connections

_state = threading.local()  # .shed: the request in this worker thread is to be refused


def raise_nofile_limit(needed: int) -> tuple[int, int]:
    """Raise the soft open-file limit to at least ``needed`` (at most the hard limit).

    Returns
    -------
    tuple of int
        The soft limit before and after.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if new > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            return soft, new
    return soft, soft


class SummaryFilter(logging.Filter):
    """Let one record per message and ``interval_s`` through; count the others.

    The next record of the same message that passes gets `` (N more like it in the last S s,
    largest depth D)`` appended, so the log keeps the facts at one line per interval. A burst
    followed by silence is summarised by the first record after it.
    """

    def __init__(self, interval_s: float = SUMMARY_INTERVAL_S, clock=time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self.lock = threading.Lock()
        self.state: dict[str, list[float]] = {}  # msg -> [next_at, suppressed, largest, since]

    def filter(self, record: logging.LogRecord) -> bool:
        first = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        value = first if isinstance(first, int) else 0
        now = self.clock()
        key = str(record.msg)
        with self.lock:
            state = self.state.setdefault(key, [float("-inf"), 0, 0, now])
            if now < state[0]:
                state[1] += 1
                state[2] = max(state[2], value)
                return False
            if state[1]:
                record.msg = (
                    f"{record.msg} ({state[1]:.0f} more like it in the last "
                    f"{now - state[3]:.0f} s, largest {state[2]:.0f})"
                )
            self.state[key] = [now + self.interval_s, 0, 0, now]
            return True


class _Queued:
    """A waitress task (a channel with requests) in the queue, with its shed mark."""

    __slots__ = ("dispatcher", "shed", "task")

    def __init__(self, dispatcher: SheddingDispatcher, task: Any, shed: bool) -> None:
        self.dispatcher = dispatcher
        self.task = task
        self.shed = shed

    def service(self) -> None:
        if not self.shed:
            with self.dispatcher.lock:
                self.dispatcher.waiting -= 1
        _state.shed = self.shed
        try:
            self.task.service()
        finally:
            _state.shed = False

    def cancel(self) -> None:
        self.task.cancel()

    def __repr__(self) -> str:
        return f"<queued {self.task!r} shed={self.shed}>"


class SheddingDispatcher(ThreadedTaskDispatcher):
    """waitress's thread pool and task queue, with at most ``max_queue`` requests waiting.

    A task that would make the wait longer goes to the front of the queue marked "shed":
    the next free thread answers it with 503 (:class:`ShedMiddleware`) in well under a
    millisecond of work, so refused clients learn it at once.
    """

    def __init__(self, threads: int, max_queue: int) -> None:
        super().__init__()
        self.max_queue = max_queue
        self.waiting = 0  # tasks queued to run the app (not the shed ones)
        self.shed_total = 0
        self.shed_logger = logging.getLogger(QUEUE_LOGGER)
        self.set_thread_count(threads)

    def add_task(self, task: Any) -> None:
        queue: Any = self.queue  # of _Queued wrappers here, not waitress's Task
        with self.lock:
            shed = self.max_queue > 0 and self.waiting >= self.max_queue
            if shed:
                queue.appendleft(_Queued(self, task, True))
                self.shed_total += 1
            else:
                queue.append(_Queued(self, task, False))
                self.waiting += 1
            self.queue_cv.notify()
            idle = len(self.threads) - self.stop_count - self.active_count
            depth = self.waiting - idle
            total = self.shed_total
        if shed:
            self.shed_logger.warning(
                "Task queue full (%d waiting): answering 503 (%d refused since start)",
                self.max_queue,
                total,
            )
        elif depth > 0:
            self.queue_logger.warning("Task queue depth is %d", depth)


class ShedMiddleware:
    """WSGI middleware: a request the dispatcher marked "shed" gets 503 + ``Retry-After``.

    ``/healthz`` is always answered by the app (it is cheap, and a health check that fails
    under load would take the whole server out of a load balancer).
    """

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not getattr(_state, "shed", False) or path == "/healthz":
            return self.app(environ, start_response)
        message = "服务器繁忙，请稍后再试 (server busy, retry shortly)"
        as_json = any(path == p or path.startswith(p + "/") for p in JSON_PREFIXES) or (
            "format=json" in environ.get("QUERY_STRING", "")
        )
        if as_json:
            body = json.dumps(
                {"error": {"code": "service_unavailable", "message": message}},
                ensure_ascii=False,
            ).encode()
            kind = "application/json"
        else:
            body = (message + "\n").encode()
            kind = "text/plain; charset=utf-8"
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", kind),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(RETRY_AFTER_S)),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


def waitress_options(settings: WebSettings, threads: int) -> dict[str, Any]:
    """The waitress ``Adjustments`` of ``yizhan serve`` for ``settings``."""
    return {
        "threads": threads,
        "connection_limit": settings.connection_limit,
        "channel_timeout": settings.channel_timeout_s,
        "cleanup_interval": max(1, min(30, settings.channel_timeout_s // 3)),
        "backlog": settings.listen_backlog,
        "asyncore_use_poll": True,
        # waitress reads a body before Flask sees it: refuse one over the largest upload form
        # (413) before it is received, as MAX_CONTENT_LENGTH does inside the app.
        "max_request_body_size": settings.upload_body_bytes,
        "ident": "yizhan",
    }


def serve(app: Callable, host: str, port: int, settings: WebSettings, threads: int) -> None:
    """Serve ``app`` with waitress on ``host:port`` until stopped (see the module text)."""
    import waitress
    from waitress.server import create_server

    before, after = raise_nofile_limit(settings.connection_limit + FD_HEADROOM)
    if after < settings.connection_limit + FD_HEADROOM:
        LOGGER.warning(
            "open-file limit %d is below YIZHAN_CONNECTION_LIMIT %d + %d: raise `ulimit -n`",
            after,
            settings.connection_limit,
            FD_HEADROOM,
        )
    elif after != before:
        LOGGER.info("open-file limit raised from %d to %d", before, after)
    queue_log = logging.getLogger(QUEUE_LOGGER)
    if not any(isinstance(f, SummaryFilter) for f in queue_log.filters):
        queue_log.addFilter(SummaryFilter())
    dispatcher = SheddingDispatcher(threads, settings.max_queue)

    def _server(application: Callable, **kw: Any):
        return create_server(application, _dispatcher=dispatcher, **kw)

    options = waitress_options(settings, threads)
    waitress.serve(ShedMiddleware(app), _server=_server, host=host, port=port, **options)


# ------------------------------------------------------------------------------------------
# Several processes: gunicorn forking ``workers`` copies of the app (``--workers N``, Linux)

#: The environment variable that makes every answer carry ``X-Worker: <pid>`` (tests that
#: must reach different workers set it; never needed in production).
WORKER_HEADER_ENV = "YIZHAN_WORKER_HEADER"

_worker_app: list[Any] = []  # the Flask app of this worker process (for worker_exit)


class WorkerHeader:
    """WSGI middleware: ``X-Worker: <pid>`` on every answer (tests only, see
    :data:`WORKER_HEADER_ENV`)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        pid = str(os.getpid())

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Worker", pid)], exc_info)

        return self.app(environ, start)


def gunicorn_options(
    settings: WebSettings, host: str, port: int, workers: int, threads: int
) -> dict[str, Any]:
    """The gunicorn settings of ``yizhan serve --workers N`` for ``settings``.

    ``gthread`` workers: each process answers with ``threads`` threads, like waitress does,
    and keeps up to ``YIZHAN_CONNECTION_LIMIT`` connections. The app is not preloaded, the
    station index is (see :func:`serve_workers`). gunicorn's own trust of ``X-Forwarded-*``
    is switched off: the app decides whom to trust (``YIZHAN_TRUSTED_PROXIES``, werkzeug's
    ``ProxyFix``), the same with one process or several.
    """
    bind = f"[{host.strip('[]')}]:{port}" if ":" in host.strip("[]") else f"{host}:{port}"
    return {
        "bind": [bind],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "worker_connections": settings.connection_limit,
        "backlog": settings.listen_backlog,
        "keepalive": max(1, min(settings.channel_timeout_s, 75)),
        # A worker silent this long is killed and replaced; building the station index of a
        # national registry at start takes seconds, so leave room.
        "timeout": 120,
        "graceful_timeout": 10,
        "preload_app": False,
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "proc_name": "yizhan",
        # gunicorn >= 25 opens a control socket under $HOME by default: two servers on one
        # machine would fight over it, and `yizhan serve` is stopped by signals anyway.
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "worker_exit": _worker_exit,
    }


def _worker_exit(_server: Any, _worker: Any) -> None:
    """gunicorn hook, in a worker that stops: stop its planner job processes."""
    from webapp.services import services

    for app in _worker_app:
        jobs = services(app).jobs
        if jobs is not None:
            jobs.shutdown()


def prebuild_index(database_url: str, max_stations: int | None = None) -> tuple[Any, int] | None:
    """The station index, its default-filter tree and every station's encoded feature, built
    in this process before it forks workers; ``None`` when the registry is too large for an
    in-memory index (the workers then answer from the database, as one process would).

    The database engine used for it is disposed of, so no connection crosses the fork.
    """
    from geo.index import Filter, StationIndex
    from geo.store import StationRepository

    repo = StationRepository.from_url(database_url)
    try:
        revision = repo.revision()
        if max_stations is not None and repo.count() > max_stations:
            return None
        index = StationIndex(repo.all())
        index._tree_for(Filter())  # the API's default filter: operating stations
        index.encode_features()  # one blob shared by the workers (geo.index.EncodedFeatures)
        return index, revision
    finally:
        repo.engine.dispose()
        _release_free_heap()


def _release_free_heap() -> None:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``), so the rows
    read while building do not stay in the master's memory and in every fork of it."""
    import contextlib
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError, TypeError):  # not glibc: nothing to do
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


def serve_workers(
    database_url: str, host: str, port: int, settings: WebSettings, workers: int, threads: int
) -> None:
    """Serve with gunicorn: ``workers`` forked processes, each with its own app, until stopped.

    **Shared index.** The master builds the station index and every station's encoded
    feature once (:func:`prebuild_index`), then ``gc.freeze()`` moves every object into the
    permanent generation before gunicorn forks: the workers' garbage collections never visit
    (and so never write to) the inherited objects, and their pages stay shared copy-on-write
    between the master and the workers. Each worker adopts that index
    (:meth:`geo.index.LiveIndex.adopt`) instead of reading the registry again. Reading a
    station still writes its reference count, so the pages of the stations a worker answers
    with become its own over time; the encoded features are one blob
    (:class:`geo.index.EncodedFeatures`) and stay shared. When the registry changes, each
    worker rebuilds its own index as before (that copy is private to it), and a worker that
    replaces a killed one forked later adopts the master's index only to rebuild it at once
    if the registry has moved on.

    **The app is built after the fork** (gunicorn's ``preload_app`` stays off): its
    database engine and connection pool, the job runner and its supervisor thread must each
    belong to one worker, and would be copied half-way into each fork otherwise. Everything
    the workers must agree on lives in the database: the job queue, the token buckets of rate
    limits and login throttling, sessions' versions and the registry revision, which each
    worker's station index checks at most once a second.
    """
    import gc

    from gunicorn.app.base import BaseApplication

    from webapp import create_app
    from webapp.services import services

    prebuilt = prebuild_index(database_url, settings.index_max_stations)

    def load() -> Callable:
        app = create_app({"DATABASE_URL": database_url})
        index = services(app).index
        if prebuilt is not None:
            index.adopt(*prebuilt)
        index.get()  # the station index before the first visitor (rebuilt if stale)
        _worker_app[:] = [app]
        wsgi: Callable = app
        if os.environ.get(WORKER_HEADER_ENV) == "1":
            wsgi = WorkerHeader(app)
        return wsgi

    options = gunicorn_options(settings, host, port, workers, threads)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # e.g. no control socket before gunicorn 25
                    self.cfg.set(key, value)

        def load(self) -> Callable:
            return load()

    raise_nofile_limit(workers * (settings.connection_limit + FD_HEADROOM))
    gc.collect()
    gc.freeze()  # everything built so far: never visited by the workers' collections
    Server().run()
