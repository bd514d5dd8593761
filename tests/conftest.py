"""Shared fixtures: a real SQLite file per test, the Flask app, and a real served process."""

from __future__ import annotations

import pytest

from geo.store import StationRepository
from support import LiveServer


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
    application.extensions["yizhan"]["repo"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The README's path: ``yizhan init-db``, ``yizhan demo``, ``yizhan serve`` for real."""
    server = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()
