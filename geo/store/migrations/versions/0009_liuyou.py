"""六有 (issue 15 item 7): a station's facilities and its manual six-haves checks.

``stations.facilities`` holds facility codes comma-joined (like ``services``; empty when none
are recorded) and ``stations.liuyou`` the manual checks as a JSON object
(``{"sign": true, "rules": false}``; a check not present is unknown). Batch mode, so SQLite
adds the columns too; existing rows get no facilities and no checks (everything unknown).

Revision ID: 0009_liuyou
Revises: 0006_postgis
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_liuyou"
down_revision = "0008_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("facilities", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("liuyou", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("liuyou")
        batch.drop_column("facilities")
