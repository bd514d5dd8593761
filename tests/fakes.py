"""Loopback fakes of the online geocoding services (Amap, Tianditu, Nominatim).

Each fake is a real ``http.server.ThreadingHTTPServer`` on ``127.0.0.1`` (a free port) run in
a thread, so the geocoders are tested through their real HTTP stack (``requests``, timeouts,
headers, encoding). A fake serves small answer files from ``tests/data/geocode`` (one per
documented case), can be scripted per test ("the next 2 requests answer 503, then succeed";
"answer after 2 s"), and records every request (path, query, headers) so a test can assert
the exact request the client sent.

Usage::

    with fake_amap() as server:
        server.script(Reply(503), Reply(503), Reply.file("amap_geo_doorplate.json"))
        geocoder = AmapGeocoder(key="k", base_url=server.url)
        ...
        assert server.requests[0].query["key"] == "k"
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).resolve().parent / "data" / "geocode"

_TYPES = {
    ".json": "application/json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass
class Reply:
    """One scripted answer.

    Attributes
    ----------
    status
        HTTP status.
    body
        Raw body bytes.
    headers
        Extra headers (``Retry-After`` …).
    content_type
        ``Content-Type`` header.
    delay_s
        Wait this long before answering (interrupted when the server stops).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    delay_s: float = 0.0

    @classmethod
    def file(cls, name: str, status: int = 200, **kwargs) -> Reply:
        """An answer whose body is ``tests/data/geocode/<name>``."""
        path = DATA / name
        content_type = _TYPES.get(path.suffix, "application/octet-stream")
        return cls(status=status, body=path.read_bytes(), content_type=content_type, **kwargs)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]  # last value of each parameter
    query_lists: dict[str, list[str]]
    headers: dict[str, str]
    raw_path: str
    at: float  # time.monotonic() on arrival


class FakeService:
    """A scripted HTTP service on a loopback port (use as a context manager).

    Parameters
    ----------
    name
        Used in thread names.
    routes
        Path → default :class:`Reply` when no scripted reply is queued.
    """

    def __init__(self, name: str, routes: dict[str, Reply]) -> None:
        self.name = name
        self.routes = dict(routes)
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -----------------------------------------------------------------------------
    def script(self, *replies: Reply) -> FakeService:
        """Queue ``replies`` for the next requests (any path), in order."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def set_default(self, path: str, reply: Reply) -> None:
        """Answer ``reply`` on ``path`` whenever nothing is scripted."""
        with self._lock:
            self.routes[path] = reply

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> FakeService:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # one request per connection: no kept-alive handler threads to wait for
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                lists = parse_qs(split.query, keep_blank_values=True)
                record = RecordedRequest(
                    method="GET",
                    path=split.path,
                    query={k: v[-1] for k, v in lists.items()},
                    query_lists=lists,
                    headers={k: v for k, v in self.headers.items()},
                    raw_path=self.path,
                    at=time.monotonic(),
                )
                with fake._lock:
                    fake.requests.append(record)
                    reply = fake._queue.popleft() if fake._queue else fake.routes.get(split.path)
                if reply is None:
                    reply = Reply(404, b'{"error": "no such path in the fake"}')
                if reply.delay_s and fake._stopping.wait(reply.delay_s):
                    return  # the server is stopping
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # stop() waits for the handlers (they return at once)
            block_on_close = True

            def handle_error(self, request, client_address) -> None:
                pass  # clients that time out close their end; nothing to report

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fake-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fake_amap(default: str = "amap_geo_doorplate.json") -> FakeService:
    """A fake Amap Web Service: ``/v3/geocode/geo`` (answers ``default``) and ``/regeo``."""
    return FakeService(
        "amap",
        {
            "/v3/geocode/geo": Reply.file(default),
            "/v3/geocode/regeo": Reply.file("amap_regeo.json"),
        },
    )


def fake_tianditu(default: str = "tianditu_door.json") -> FakeService:
    """A fake Tianditu geocoder: ``/geocoder`` answers ``default``."""
    return FakeService("tianditu", {"/geocoder": Reply.file(default)})


def fake_nominatim(default: str = "nominatim_house.json") -> FakeService:
    """A fake Nominatim server: ``/search`` answers ``default``."""
    return FakeService("nominatim", {"/search": Reply.file(default)})
