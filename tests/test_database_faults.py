"""Faults of a server database, on the real throwaway PostgreSQL cluster (tests/pg.py): the
database going away answers 503 (JSON under /api, a page elsewhere) and the app recovers by
itself when it returns; ``yizhan init-db`` without the right to create PostGIS says what a
superuser must run."""

from __future__ import annotations

import os
import time

import pytest

from support import cli

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_database_away_answers_503_and_recovers(pg_cluster, loaded):
    client = loaded
    assert client.get("/api/stations/T-001").status_code == 200
    assert client.get("/stations/T-001").status_code == 200
    pg_cluster.stop()
    try:
        time.sleep(1.1)  # past the live index's revision check interval
        for path in (
            "/api/stations/T-001",
            "/api/stations?bbox=109,24,110,25",
            "/api/nearest?lon=109.4&lat=24.3",
        ):
            r = client.get(path)
            assert r.status_code == 503, (path, r.status_code, r.get_data(as_text=True)[:300])
            assert r.json["error"]["code"] == "database_unavailable"
            assert "temporarily unavailable" in r.json["error"]["message"]
            assert r.headers["Retry-After"] == "5"
        page = client.get("/stations/T-001")
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert "数据库暂时无法连接" in page.get_data(as_text=True)
    finally:
        pg_cluster.start()
    # back: the pool replaced its dead connections, the very next requests answer
    assert client.get("/api/stations/T-001").status_code == 200
    assert client.get("/stations/T-001").status_code == 200
    assert client.get("/api/stations?bbox=109,24,110,25").status_code == 200


@pytest.fixture
def editor_database(pg_cluster):
    """A database without PostGIS, owned by a role that is not a superuser."""
    pg_cluster.sql("DROP ROLE IF EXISTS editor")
    pg_cluster.sql("CREATE ROLE editor LOGIN NOSUPERUSER NOCREATEDB")
    name = pg_cluster.create_database(postgis=False, owner="editor")
    yield name
    pg_cluster.drop_database(name)
    pg_cluster.sql("DROP ROLE IF EXISTS editor")


def test_init_db_without_postgis_rights_names_the_sql(pg_cluster, editor_database):
    env = {**os.environ, "YIZHAN_DATABASE_URL": pg_cluster.url(editor_database, user="editor")}
    refused = cli("init-db", env=env, check=False)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "CREATE EXTENSION IF NOT EXISTS postgis;" in refused.stderr
    assert "superuser" in refused.stderr and editor_database in refused.stderr
    # nothing half-done: the failed upgrade left no tables behind (transactional DDL)
    import sqlalchemy as sa

    engine = sa.create_engine(pg_cluster.url(editor_database))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('stations')")).scalar() is None
    engine.dispose()
    pg_cluster.sql("CREATE EXTENSION postgis", database=editor_database)
    done = cli("init-db", env=env)
    assert "database ready at schema" in done.stdout
