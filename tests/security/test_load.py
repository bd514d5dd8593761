"""Load as an attack: many kept-alive clients must not starve, the log must stay readable.

The end-to-end test runs a real ``yizhan serve`` (waitress) on 127.0.0.1 and opens 200
kept-alive connections at once, each sending 3 requests and then staying open (as browsers
keep idle connections). Every client must get every answer (200, or a fast 503 when the
queue is full) within 5 s, and the server's log must not fill with "Task queue depth" lines.
Under waitress's defaults (``connection_limit`` 100) the clients past the 100th are never
accepted while the first ones stay open, and every busy moment logs a line.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time

import pytest

from support import LiveServer, in_fresh_thread
from webapp import serving
from webapp.settings import WebSettings

CLIENTS = 200
REQUESTS_PER_CLIENT = 3
ANSWER_BOUND_S = 5.0
MAX_QUEUE_LINES = 20
PATH = "/api/nearest?lon=109.41&lat=24.33&k=5"


async def _client(port: int, start: float, complete: list, done: asyncio.Event) -> dict:
    """One kept-alive client: connect, send the requests one after the other, stay open."""
    out: dict = {"statuses": [], "retry_after": [], "last_s": None, "error": None}
    writer = None

    async def ask() -> None:
        nonlocal writer
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(REQUESTS_PER_CLIENT):
            writer.write(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            lines = (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
            headers = {k.strip().lower(): v.strip() for k, _, v in lines}
            await reader.readexactly(int(headers.get(b"content-length", b"0")))
            status = int(head[9:12])
            out["statuses"].append(status)
            if status == 503:
                out["retry_after"].append(headers.get(b"retry-after"))
            out["last_s"] = time.monotonic() - start

    try:
        await asyncio.wait_for(ask(), ANSWER_BOUND_S + 1 - (time.monotonic() - start))
        complete.append(1)
        await done.wait()  # an idle kept-alive connection, like a browser's
    except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
        out["error"] = repr(exc)
    finally:
        if writer is not None:
            writer.close()
    return out


async def _crowd(port: int) -> list[dict]:
    """All clients at once; they let go when all have their answers or the bound is over."""
    done = asyncio.Event()
    complete: list = []
    start = time.monotonic()
    tasks = [_client(port, start, complete, done) for _ in range(CLIENTS)]
    finished = asyncio.gather(*tasks)
    while len(complete) < CLIENTS and time.monotonic() < start + ANSWER_BOUND_S:
        await asyncio.sleep(0.05)
    done.set()
    return await asyncio.wait_for(finished, 10)


@pytest.mark.slow
@pytest.mark.both_backends
def test_200_kept_alive_clients_are_all_answered_fast(tmp_path, db_url):
    server = LiveServer(tmp_path, db_url=db_url).start()
    try:
        results = in_fresh_thread(asyncio.run, _crowd(server.port))
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text(errors="replace")
    late = [r for r in results if r["last_s"] is None or r["last_s"] > ANSWER_BOUND_S]
    short = [r for r in results if len(r["statuses"]) < REQUESTS_PER_CLIENT]
    assert not short, f"{len(short)} of {CLIENTS} clients lacked answers, e.g. {short[:2]}"
    assert not late, f"{len(late)} clients answered after {ANSWER_BOUND_S} s"
    statuses = [s for r in results for s in r["statuses"]]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert statuses.count(200) > 0
    assert all(ra == b"1" for r in results for ra in r["retry_after"])
    queue_lines = log.count("Task queue")
    assert queue_lines < MAX_QUEUE_LINES, f"{queue_lines} queue lines in the server log"


# -- the parts, fast ------------------------------------------------------------------------


def test_queue_warnings_are_summarised_once_per_interval():
    now = [100.0]
    summary = serving.SummaryFilter(interval_s=10, clock=lambda: now[0])
    logger = logging.getLogger("test.load.queue")

    def record(depth: int) -> logging.LogRecord:
        return logger.makeRecord(
            logger.name, logging.WARNING, __file__, 1, "Task queue depth is %d", (depth,), None
        )

    first = record(1)
    assert summary.filter(first) and first.getMessage() == "Task queue depth is 1"
    passed = 0
    for depth in range(2, 1002):
        now[0] += 0.005
        passed += summary.filter(record(depth))
    assert passed == 0
    now[0] += 10
    last = record(3)
    assert summary.filter(last)
    assert "1000 more like it" in last.getMessage() and "largest 1001" in last.getMessage()


class _Task:
    def __init__(self, name: str, seen: list) -> None:
        self.name, self.seen = name, seen

    def service(self) -> None:
        self.seen.append((self.name, serving._state.shed))

    def cancel(self) -> None:
        pass


def test_full_queue_refuses_at_the_front_and_the_app_answers_503():
    dispatcher = serving.SheddingDispatcher(threads=0, max_queue=2)  # nobody serves yet
    seen: list = []
    for name in "abcd":
        dispatcher.add_task(_Task(name, seen))
    assert dispatcher.waiting == 2 and dispatcher.shed_total == 2
    while dispatcher.queue:
        dispatcher.queue.popleft().service()
    assert seen == [("d", True), ("c", True), ("a", False), ("b", False)]
    assert dispatcher.waiting == 0

    calls: list = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"ok"]

    shed = serving.ShedMiddleware(app)
    got: list = []
    serving._state.shed = True
    try:
        body = b"".join(shed({"PATH_INFO": "/api/nearest"}, lambda s, h: got.append((s, h))))
        shed({"PATH_INFO": "/healthz"}, lambda s, h: None)
    finally:
        serving._state.shed = False
    status, headers = got[0]
    assert status.startswith("503") and ("Retry-After", "1") in headers
    assert b"service_unavailable" in body
    assert calls == ["/healthz"]  # the health check is never refused


def test_waitress_options_fit_many_connections():
    settings = WebSettings.from_env({"YIZHAN_CONNECTION_LIMIT": "1500"})
    options = serving.waitress_options(settings, 8)
    assert options["connection_limit"] == 1500 and options["asyncore_use_poll"] is True
    assert options["channel_timeout"] == settings.channel_timeout_s
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert serving.raise_nofile_limit(16) == (soft, soft)  # enough already: unchanged
