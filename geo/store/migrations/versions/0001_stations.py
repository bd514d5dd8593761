"""Stations and meta tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("services", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("province_code", sa.String(12)),
        sa.Column("province", sa.Text),
        sa.Column("prefecture_code", sa.String(12)),
        sa.Column("prefecture", sa.Text),
        sa.Column("county_code", sa.String(12)),
        sa.Column("county", sa.Text),
        sa.Column("township_code", sa.String(12)),
        sa.Column("township", sa.Text),
        sa.Column("village_code", sa.String(12)),
        sa.Column("village", sa.Text),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("orig_lon", sa.Float),
        sa.Column("orig_lat", sa.Float),
        sa.Column("orig_crs", sa.String(8)),
        sa.Column("precision", sa.String(16), nullable=False),
        sa.Column("hours", sa.Text),
        sa.Column("phone", sa.String(64)),
        sa.Column("union_name", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("notes", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("extra", sa.JSON),
    )
    op.create_index("ix_stations_kind", "stations", ["kind"])
    op.create_index("ix_stations_county_code", "stations", ["county_code"])
    op.create_index("ix_stations_lon_lat", "stations", ["lon", "lat"])
    op.create_table(
        "yizhan_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("yizhan_meta")
    op.drop_table("stations")
