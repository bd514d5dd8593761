"""Scenario owners and sharing; a per-user session version (server-side logout).

``scenarios.owner`` names the planner user who saved a scenario; scenarios saved before this
revision (and those saved with ``yizhan scenario save``) have no owner: the planner pages show
them to nobody, the CLI (an administrator's tool) to its user, and ``yizhan user adopt`` gives
them to a user. ``scenarios.shared`` lets the owner show a scenario to every planner user.
``users.session_version`` is stored in a session at login and compared on every request;
logout, a password change and disabling the user increase it, so older cookies stop working.

Plain ``ADD COLUMN`` with server defaults: SQLite (in batch mode, which only copies the table
when it has to) and PostgreSQL both fill existing rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scenarios") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_scenarios_owner", ["owner"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer, nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
    with op.batch_alter_table("scenarios") as batch:
        batch.drop_index("ix_scenarios_owner")
        batch.drop_column("shared")
        batch.drop_column("owner")
