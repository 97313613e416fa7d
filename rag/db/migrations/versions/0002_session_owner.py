"""Sessions belong to a user (the SQLite sessions file's schema version 2).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("owner", sa.Text))
    op.create_index("sessions_by_owner", "sessions", ["owner", "updated_at"])


def downgrade() -> None:
    op.drop_index("sessions_by_owner", table_name="sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("owner")
