"""Demand signals from the public map (issue 15 item 8): counts per H3 cell and day, and per
station and day.

``demand_signals`` (day, cell, kind, count): searches and "use my location" of the locator,
counted on the H3 cell (resolution 7, about 5 km²) of the point; ``station_signals`` (day,
station_id, kind, count): station-page views and navigation clicks. No IP, no coordinate, no
address is stored. Both tables are added to with INSERT … ON CONFLICT DO UPDATE (SQLite and
PostgreSQL), so several workers add up.

Revision ID: 0012_demand
Revises: 0009_liuyou
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_demand"
down_revision = "0011_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demand_signals",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("cell", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(24), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_demand_signals_day", "demand_signals", ["day"])
    op.create_table(
        "station_signals",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("station_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_station_signals_day", "station_signals", ["day"])


def downgrade() -> None:
    op.drop_index("ix_station_signals_day", "station_signals")
    op.drop_table("station_signals")
    op.drop_index("ix_demand_signals_day", "demand_signals")
    op.drop_table("demand_signals")
