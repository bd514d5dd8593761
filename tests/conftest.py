"""Shared fixtures: a real database per test (a SQLite file, and a PostgreSQL database in the
modules marked ``both_backends``), the Flask app, and a real served process."""

from __future__ import annotations

import pytest

from geo.records import import_registry
from geo.store import StationRepository
from support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DATA,
    MISSING_CHROMIUM,
    LiveServer,
    close_app,
    free_port,
)
from webapp.services import services

#: The backends of a ``both_backends`` module; ``-m "not postgres"`` leaves PostgreSQL out.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc):
    """Run every test of a module marked ``both_backends`` on SQLite and on PostgreSQL
    (unless the test names its backends itself with ``parametrize("backend", …)``)."""
    definition = metafunc.definition
    chosen = any(m.args and m.args[0] == "backend" for m in definition.iter_markers("parametrize"))
    marked = definition.get_closest_marker("both_backends")
    if "backend" in metafunc.fixturenames and marked and not chosen:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.postgres_subset(name=[values…])``: on PostgreSQL (a test whose backend
    parameter, fixture or function, is ``postgresql``) run the test only for these values of its
    parameter ``name``; the other cases are deselected (e.g. one viewport of a page matrix)."""
    kept, dropped = [], []
    for item in items:
        mark = item.get_closest_marker("postgres_subset")
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_postgres = "postgresql" in [v for v in params.values() if isinstance(v, str)]
        if (
            mark
            and on_postgres
            and any(params.get(k) not in values for k, values in mark.kwargs.items())
        ):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def backend(request) -> str:
    """``sqlite`` (the default) or ``postgresql`` (``both_backends`` modules)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL + PostGIS cluster for the session (tests/pg.py); a clear
    failure, not a skip, when the binaries are missing (``scripts/install_test_deps.sh``)."""
    from pg import Cluster, missing

    reason = missing()
    if reason:
        pytest.fail(reason)
    Cluster.sweep_orphans()  # clusters left by killed sessions
    cluster = Cluster(free_port())
    try:
        cluster.init().start()
        cluster.make_template()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_database(pg_cluster):
    """A fresh PostgreSQL database with PostGIS for one test: its URL; dropped afterwards."""
    name = pg_cluster.create_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture
def db_url(backend, tmp_path, request) -> str:
    """The test's database: a SQLite file, or a fresh PostgreSQL database."""
    if backend == "postgresql":
        return request.getfixturevalue("pg_database")
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
    close_app(application)


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
