"""Pending changes (issue 15 item 5): the ``station_changes`` table of :mod:`geo.store.changes`.

An editor's change of a station waits here until a reviewer of its area approves it (then it
is written to ``stations`` and ``station_versions`` in the same transaction) or rejects it.

Revision ID: 0010_changes
Revises: 0009_liuyou
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_changes"
down_revision = "0009_liuyou"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("base_version", sa.Integer, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("province_code", sa.String(12)),
        sa.Column("prefecture_code", sa.String(12)),
        sa.Column("county_code", sa.String(12)),
        sa.Column("township_code", sa.String(12)),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("reviewer", sa.String(128)),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("applied_version", sa.Integer),
    )
    op.create_index("ix_station_changes_state", "station_changes", ["state"])
    op.create_index("ix_station_changes_station_id", "station_changes", ["station_id"])
    op.create_index("ix_station_changes_author", "station_changes", ["author"])


def downgrade() -> None:
    op.drop_index("ix_station_changes_author", table_name="station_changes")
    op.drop_index("ix_station_changes_station_id", table_name="station_changes")
    op.drop_index("ix_station_changes_state", table_name="station_changes")
    op.drop_table("station_changes")
