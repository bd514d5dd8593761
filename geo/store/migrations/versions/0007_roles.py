"""Roles and areas of users (issue 15: accounts and roles scoped by area).

``users.role`` is one of ``admin``, ``reviewer``, ``editor``, ``planner``, ``staff``
(:class:`geo.access.Role`); its server default ``planner`` fills the rows already there, so
every user from before keeps the planner pages and nothing else changes for them. Areas are
rows of a new table ``user_areas`` (user name, admin code), not a JSON column: "who covers
county 450225" (the review queue's reviewers, the dashboard) is then an indexed query that
works the same on SQLite and PostgreSQL, a user cannot hold the same area twice (the primary
key), and deleting a user deletes its areas (``ON DELETE CASCADE``; the repository also
deletes them itself, as SQLite enforces foreign keys only when asked). Existing users get no
rows: no areas covers everything, as before.

Revision ID: 0007_roles
Revises: 0006_postgis
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_roles"
down_revision = "0006_postgis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="planner"))
    op.create_table(
        "user_areas",
        sa.Column(
            "user_name",
            sa.String(64),
            sa.ForeignKey("users.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("area_code", sa.String(12), primary_key=True),
    )
    op.create_index("ix_user_areas_area_code", "user_areas", ["area_code"])


def downgrade() -> None:
    op.drop_index("ix_user_areas_area_code", table_name="user_areas")
    op.drop_table("user_areas")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("role")
