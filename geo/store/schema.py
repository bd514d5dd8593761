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
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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
    # -- history (issue 15 item 6, migration 0008_history): 1 when created, +1 per change --
    Column("version", Integer, nullable=False, default=1, server_default="1"),
    # 六有 (issue 15 item 7): facility codes comma-joined, the manual checks as JSON
    Column("facilities", Text, nullable=False, default=""),
    Column("liuyou", JSON),
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
    # geo.access.Role; "planner" for users from before roles (migration 0007_roles).
    Column("role", String(16), nullable=False, default="planner", server_default="planner"),
)

# -- areas of users (migration 0007_roles): admin codes a user's role applies to -----------
user_areas = Table(
    "user_areas",
    metadata,
    Column(
        "user_name",
        String(64),
        ForeignKey("users.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("area_code", String(12), primary_key=True),
    Index("ix_user_areas_area_code", "area_code"),
)

# -- shared state of the server processes (migration 0005_shared_state) -------------------
# What one process used to keep in memory, so that every worker of ``yizhan serve --workers N``
# sees the same: the planner's job queue (geo.store.jobs) and the request token buckets
# (geo.store.limits: login throttling, geocoding rate limit).

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("parent", String(32)),
    Column("params", JSON, nullable=False),
    # queued | running | done | failed | cancelled
    Column("state", String(16), nullable=False),
    Column("stage", Text, nullable=False, default=""),
    Column("fraction", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # The server process ("host:pid") that queued the job, then the one that runs it.
    Column("runner", String(128)),
    Column("worker_pid", Integer),  # the job's own (spawned) process while it runs
    Column("heartbeat_at", DateTime(timezone=True)),  # the runner's last sign of life
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("folder", Text, nullable=False),  # inputs, results and job.json
    Column("task", LargeBinary),  # what to run (pickled), dropped when the job finishes
    Index("ix_jobs_state_created", "state", "created_at"),
    Index("ix_jobs_owner", "owner"),
)

rate_buckets = Table(
    "rate_buckets",
    metadata,
    # "<limiter>:<client>", e.g. "login:203.0.113.5"
    Column("key", String(200), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_s", Float, nullable=False),  # Unix time of the last take, in seconds
    Column("allowed", Boolean, nullable=False, default=True),  # the last take's answer
    Index("ix_rate_buckets_updated", "updated_s"),
)

# -- history and audit (issue 15 item 6, migration 0008_history) ---------------------------
# One row per stored change of a station, written in the transaction of the change
# (geo.store.history). No foreign key: a deleted station's rows stay, its last record too.

station_versions = Table(
    "station_versions",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    # create | edit | close | reopen | delete | revert | import
    Column("action", String(16), nullable=False),
    Column("record", JSON, nullable=False),  # the full station record after the change
    Column("changes", JSON, nullable=False),  # field -> [before, after]
    Column("actor", String(128), nullable=False),
    # web | upload | cli | revert | review | migration | unknown
    Column("source", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    # ",province,prefecture,county,township," codes before and after (an area's audit)
    Column("area_codes", Text, nullable=False, default=""),
    Index("ix_station_versions_at", "at"),
)


# -- pending changes (issue 15 item 5, migration 0010_changes; geo.store.changes) ----------
# An editor's proposed change of one station, waiting for a reviewer of its area. No foreign
# key: a create's station does not exist until approved, a deleted one's changes stay.
station_changes = Table(
    "station_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False),  # a create's id is chosen at proposal
    Column("action", String(16), nullable=False),  # create | edit | close | reopen | delete
    Column("base_version", Integer, nullable=False),  # 0: a create
    Column("record", JSON, nullable=False),  # the proposed full record (a delete: the last)
    Column("changes", JSON, nullable=False),  # field -> [before, after] against the base
    Column("author", String(128), nullable=False),
    Column("source", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the proposed record's codes (a delete: the station's), for geo.access.area_condition
    Column("province_code", String(12)),
    Column("prefecture_code", String(12)),
    Column("county_code", String(12)),
    Column("township_code", String(12)),
    # pending | approved | rejected | withdrawn | superseded
    Column("state", String(16), nullable=False, default="pending"),
    Column("reviewer", String(128)),
    Column("comment", Text, nullable=False, default=""),
    Column("decided_at", DateTime(timezone=True)),
    Column("applied_version", Integer),  # the station version the approval wrote
    Index("ix_station_changes_state", "state"),
    Index("ix_station_changes_station_id", "station_id"),
    Index("ix_station_changes_author", "author"),
)


# -- review queue (issue 15 item 4, migration 0011_review) ----------------------------------
# One row per decided review item (geo.review_queue): its key "kind:id[:id]", the decision,
# who, when, why, and the station versions it was taken at (an item accepted at version v
# comes back when the station's version is above v).

review_items = Table(
    "review_items",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),  # coarse | county | duplicate | stale
    Column("station_ids", JSON, nullable=False),  # [id, ...]
    Column("state", String(16), nullable=False),  # open|accepted|fixed|merged|dismissed
    Column("versions", JSON, nullable=False),  # {station id: version decided at}
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    # ",province,prefecture,county,township," codes of the stations (as station_versions)
    Column("area_codes", Text, nullable=False, default=""),
)


# -- demand signals from the public map (issue 15 item 8, migration 0012_demand) -----------
# Counts only: no address, no IP, no coordinate. A point becomes its H3 cell (resolution 7,
# geo.demand.signals.RESOLUTION) before it is counted; rows are added to with one atomic
# INSERT … ON CONFLICT DO UPDATE (geo.demand.signals.add_counts).

demand_signals = Table(
    "demand_signals",
    metadata,
    Column("day", Date, primary_key=True),  # the day in China time (UTC+8)
    Column("cell", String(16), primary_key=True),  # an H3 cell id (hex), resolution 7
    # search_unserved | locate_unserved | search_served | locate_served
    Column("kind", String(24), primary_key=True),
    Column("count", Integer, nullable=False),
    Index("ix_demand_signals_day", "day"),
)

station_signals = Table(
    "station_signals",
    metadata,
    Column("day", Date, primary_key=True),
    Column("station_id", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),  # view | navigate
    Column("count", Integer, nullable=False),
    Index("ix_station_signals_day", "day"),
)
