"""Shared fixtures: a real SQLite file per test, the Flask app, and a real served process."""

from __future__ import annotations

import pytest

from geo.records import import_registry
from geo.store import StationRepository
from support import CHROMIUM, CHROMIUM_ARGS, DATA, MISSING_CHROMIUM, LiveServer
from webapp.services import services


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'yizhan.db'}"


@pytest.fixture
def repo(db_url) -> StationRepository:
    r = StationRepository.from_url(db_url)
    r.init_schema()
    yield r
    r.engine.dispose()


@pytest.fixture
def app(db_url):
    from webapp import create_app

    application = create_app({"DATABASE_URL": db_url, "TESTING": True})
    yield application
    services(application).repo.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def loaded(app, client):
    """The test client over the two tiny registries of ``tests/data`` (7 stations)."""
    repo = services(app).repo
    import_registry(repo, DATA / "registry_zh.csv")
    import_registry(repo, DATA / "registry.geojson")
    return client


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The README's path: ``yizhan init-db``, ``yizhan demo``, ``yizhan serve`` for real."""
    server = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """The system Chromium for the whole session (one Playwright loop in the main thread);
    a clear failure, not a download, when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(MISSING_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
