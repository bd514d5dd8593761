"""Station history: ``stations.version`` and the ``station_versions`` table (issue 15 item 6).

Every station gets version 1 and one ``import`` history row (actor ``migration``, source
``migration``) holding its record as it was when the history began. The columns read here
are those of the stations table at this revision (0001 plus ``version``), not the current
schema, so the migration keeps working when later migrations add columns.

Revision ID: 0008_history
Revises: 0006_postgis
Create Date: 2026-12-06
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from geo.store.history import area_codes, diff, record_of

revision = "0008_history"
down_revision = "0007_roles"
branch_labels = None
depends_on = None

#: The stations columns at this revision (as created by 0001), in order.
_COLUMNS: list[tuple[str, Any]] = [
    ("id", sa.String(64)),
    ("name", sa.Text),
    ("name_en", sa.Text),
    ("kind", sa.String(64)),
    ("services", sa.Text),
    ("address", sa.Text),
    ("province_code", sa.String(12)),
    ("province", sa.Text),
    ("prefecture_code", sa.String(12)),
    ("prefecture", sa.Text),
    ("county_code", sa.String(12)),
    ("county", sa.Text),
    ("township_code", sa.String(12)),
    ("township", sa.Text),
    ("village_code", sa.String(12)),
    ("village", sa.Text),
    ("lon", sa.Float),
    ("lat", sa.Float),
    ("orig_lon", sa.Float),
    ("orig_lat", sa.Float),
    ("orig_crs", sa.String(8)),
    ("precision", sa.String(16)),
    ("hours", sa.Text),
    ("phone", sa.String(64)),
    ("union_name", sa.Text),
    ("status", sa.String(16)),
    ("demo", sa.Boolean),
    ("source", sa.Text),
    ("notes", sa.Text),
    ("updated_at", sa.DateTime(timezone=True)),
    ("extra", sa.JSON),
]


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    versions = op.create_table(
        "station_versions",
        sa.Column("station_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("area_codes", sa.Text, nullable=False),
    )
    op.create_index("ix_station_versions_at", "station_versions", ["at"])
    old = sa.Table("stations", sa.MetaData(), *(sa.Column(name, kind) for name, kind in _COLUMNS))
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows: list[dict] = []
    for row in bind.execute(sa.select(old).order_by(old.c.id)).mappings():
        record = record_of(dict(row))
        rows.append(
            {
                "station_id": row["id"],
                "version": 1,
                "action": "import",
                "record": record,
                "changes": diff(None, record),
                "actor": "migration",
                "source": "migration",
                "reason": "history begins (migration 0008)",
                "at": now,
                "area_codes": area_codes(record),
            }
        )
        if len(rows) >= 1000:
            bind.execute(versions.insert(), rows)
            rows = []
    if rows:
        bind.execute(versions.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_station_versions_at", table_name="station_versions")
    op.drop_table("station_versions")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("version")
