"""Browser-test fixtures: a real ``yizhan serve`` process and the system Chromium.

The server is the README's path for real: ``python -m webapp.cli init-db``, ``demo``, then
``serve`` on a free loopback port, on its own database (a SQLite file in a temporary directory,
then a database of the suite's PostgreSQL cluster; the tests here write to it, so it is not
shared with other test modules). The browser is Debian's
``/usr/bin/chromium`` driven by Playwright's Python sync API; it is never downloaded by a test
tool (``scripts/install_chromium.sh`` installs it with apt). Every request the page makes to
another origin is blocked and recorded: the locator must work offline, on an intranet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# The session's Chromium (``browser``) is a fixture of tests/conftest.py: one Playwright for
# every module that opens pages, so no module starts a second event loop beside it.
from support import (  # noqa: F401
    ARTIFACTS,
    BACKEND_PARAMS,
    CHROMIUM,
    CHROMIUM_ARGS,
    MISSING_CHROMIUM,
    LiveServer,
    module_server,
)


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def server(request, tmp_path_factory):
    """A fresh database with the demo registry (SQLite, then PostgreSQL), served on a free
    port; stopped afterwards.

    Module-scoped (not the session's ``live_server``) because these tests write to it.
    """
    with module_server(request, tmp_path_factory.mktemp("locator")) as srv:
        yield srv


@dataclass
class Tab:
    """A page plus what it did: requests to other origins, uncaught errors."""

    page: object
    context: object
    base: str
    foreign: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def open_page(browser, server):
    """``open_page(viewport=..., geolocation=..., permissions=...)`` -> a :class:`Tab` on ``/``.

    Requests to any origin but the server are aborted and recorded in ``tab.foreign``; an
    uncaught JavaScript error or a Content-Security-Policy violation fails the test at teardown.
    """
    tabs: list[Tab] = []
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(server.url))

    def _open(
        viewport=(1280, 800),
        geolocation=None,
        permissions=(),
        path: str = "/",
        wait_for_markers: bool = True,
    ) -> Tab:
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            geolocation=geolocation,
            permissions=list(permissions),
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        tab = Tab(page=page, context=context, base=server.url)
        tabs.append(tab)

        def _route(route):
            url = route.request.url
            if url.startswith(origin + "/") or url.startswith("data:"):
                route.continue_()
            else:
                tab.foreign.append(url)
                route.abort()

        page.route("**/*", _route)
        page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                tab.errors.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        page.goto(server.url + path)
        if wait_for_markers:
            page.wait_for_selector(".leaflet-marker-pane .leaflet-marker-icon")
        return tab

    yield _open
    for tab in tabs:
        tab.context.close()
    errors = [e for tab in tabs for e in tab.errors]
    assert not errors, f"uncaught JavaScript errors: {errors}"
