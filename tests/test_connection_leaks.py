"""Connections a test's app checked out are closed when the test ends (PostgreSQL: psycopg
warns, from the garbage collector, about a connection deleted while still open)."""

from __future__ import annotations

import gc
import threading
import warnings

import pytest

from geo.store import StationRepository
from support import close_app
from webapp.services import services


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_closing_an_app_waits_for_the_index_build_that_holds_a_connection(db_url, monkeypatch):
    """The app fixture's teardown (``close_app``) while the station index is being built in
    the background: the build's pooled connection is closed, not left to the collector."""
    from webapp import create_app

    app = create_app({"DATABASE_URL": db_url, "TESTING": True})
    svc = services(app)
    reading, go_on = threading.Event(), threading.Event()
    read_all = StationRepository.all

    def slow_all(repo):  # the build is inside repo.all(), a connection checked out
        with repo.engine.connect():
            reading.set()
            go_on.wait(30)
            return read_all(repo)

    monkeypatch.setattr(StationRepository, "all", slow_all)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert svc.index.ready() is None  # cold: the build starts in the background
        assert reading.wait(30)
        threading.Timer(0.5, go_on.set).start()  # the build goes on while the app closes
        close_app(app)
        builder = svc.index._builder
        assert builder is not None
        builder.join(timeout=60)
        del app, svc
        gc.collect()
    leaked = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaked, [str(w.message) for w in leaked]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_cli_command_closes_its_connections(db_url):
    """A ``yizhan`` command run in-process (as scripts and tests do) closes the database
    connections it opened when it ends (the Context's close callback)."""
    from click.testing import CliRunner

    from webapp.cli import main

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = CliRunner().invoke(main, ["--database", db_url, "init-db"])
        assert result.exit_code == 0, result.output
        result = CliRunner().invoke(main, ["--database", db_url, "user", "list"])
        assert result.exit_code == 0, result.output
        del result
        gc.collect()
    leaked = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaked, [str(w.message) for w in leaked]
