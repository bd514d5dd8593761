"""Review queue (issue 15 item 4): the ``review_items`` table of decided review items.

Each row is one item of the review queue (:mod:`geo.review_queue`) that someone decided:
accepted as is, fixed, merged or dismissed, by whom, when, why, and at which station versions.

Revision ID: 0011_review
Revises: 0009_liuyou
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_review"
down_revision = "0010_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("station_ids", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("area_codes", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("review_items")
