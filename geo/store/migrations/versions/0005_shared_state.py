"""Shared state of the server processes: the planner's job queue and request token buckets.

``jobs`` holds every planner job (queued, running, finished) so that any worker process of
``yizhan serve --workers N`` can start, show, poll and cancel any job, and claim queued ones;
``rate_buckets`` holds the token buckets of login throttling and the geocoding rate limit, so
a client's limit holds whichever worker answers it. Plain tables: SQLite and PostgreSQL.

Revision ID: 0005_shared_state
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_shared_state"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("parent", sa.String(32)),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stage", sa.Text, nullable=False, server_default=""),
        sa.Column("fraction", sa.Float, nullable=False, server_default=sa.text("0")),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("runner", sa.String(128)),
        sa.Column("worker_pid", sa.Integer),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("task", sa.LargeBinary),
    )
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_at"])
    op.create_index("ix_jobs_owner", "jobs", ["owner"])
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_s", sa.Float, nullable=False),
        sa.Column("allowed", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_index("ix_rate_buckets_updated", "rate_buckets", ["updated_s"])


def downgrade() -> None:
    op.drop_index("ix_rate_buckets_updated", "rate_buckets")
    op.drop_table("rate_buckets")
    op.drop_index("ix_jobs_owner", "jobs")
    op.drop_index("ix_jobs_state_created", "jobs")
    op.drop_table("jobs")
