"""Database schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The schema is database-neutral: positions are two ``Float`` columns in WGS-84 and services a
comma-separated list of codes, so the same tables work on SQLite and on PostgreSQL. Changes go
through Alembic migrations in ``geo/store/migrations`` (``yizhan init-db`` upgrades to head).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

stations = Table(
    "stations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text),
    Column("kind", String(64), nullable=False),
    Column("services", Text, nullable=False, default=""),
    Column("address", Text),
    Column("province_code", String(12)),
    Column("province", Text),
    Column("prefecture_code", String(12)),
    Column("prefecture", Text),
    Column("county_code", String(12)),
    Column("county", Text),
    Column("township_code", String(12)),
    Column("township", Text),
    Column("village_code", String(12)),
    Column("village", Text),
    Column("lon", Float),
    Column("lat", Float),
    Column("orig_lon", Float),
    Column("orig_lat", Float),
    Column("orig_crs", String(8)),
    Column("precision", String(16), nullable=False, default="unknown"),
    Column("hours", Text),
    Column("phone", String(64)),
    Column("union_name", Text),
    Column("status", String(16), nullable=False, default="open"),
    Column("demo", Boolean, nullable=False, default=False),
    Column("source", Text),
    Column("notes", Text),
    Column("updated_at", DateTime(timezone=True)),
    Column("extra", JSON),
    Index("ix_stations_kind", "kind"),
    Index("ix_stations_county_code", "county_code"),
    Index("ix_stations_lon_lat", "lon", "lat"),
)

meta = Table(
    "yizhan_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

scenarios = Table(
    "scenarios",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("result", JSON),
    Column("registry_revision", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("run_at", DateTime(timezone=True)),
    # The planner user who saved it (None: saved before owners existed, or by the CLI);
    # ``shared``: shown to every planner user, read-only (migration 0004).
    Column("owner", String(64)),
    Column("shared", Boolean, nullable=False, default=False),
    Index("ix_scenarios_owner", "owner"),
)

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True)),
    Column("last_login_at", DateTime(timezone=True)),
    # Stored in the session at login and checked on every request; logout, a new password
    # and disabling increase it, which ends every older session (migration 0004).
    Column("session_version", Integer, nullable=False, default=0),
)
