"""PostGIS on PostgreSQL: a generated ``geom geometry(Point, 4326)`` column with a GiST index.

On PostgreSQL the PostGIS extension is created when this role may (else ``yizhan init-db``
stops with the SQL a superuser runs: :func:`geo.store.postgis.ensure_postgis`), then
``stations.geom`` is added as a *stored generated column* from ``lon``/``lat``: PostgreSQL
computes it on every INSERT and UPDATE, and fills it for the rows already there, so it can
never drift from the coordinates, whatever writes the row (the repository, ``psql``, a restore
of a dump). A station without coordinates has a NULL ``geom`` (``ST_MakePoint`` is strict).

On SQLite this migration does nothing: the in-memory index and ``lon``/``lat`` do the work.

Revision ID: 0006_postgis
Revises: 0005_shared_state
Create Date: 2026-12-06
"""

from alembic import op

from geo.store.postgis import ensure_postgis

revision = "0006_postgis"
down_revision = "0005_shared_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    ensure_postgis(bind)
    op.execute(
        "ALTER TABLE stations ADD COLUMN geom geometry(Point, 4326) "
        "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED"
    )
    op.execute("CREATE INDEX ix_stations_geom ON stations USING gist (geom)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_stations_geom")
    op.execute("ALTER TABLE stations DROP COLUMN IF EXISTS geom")
