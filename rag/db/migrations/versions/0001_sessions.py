"""Chat sessions and their messages (the SQLite sessions file's schema version 1).

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("title", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("role", sa.Text, sa.CheckConstraint("role IN ('user', 'assistant')"),
                  nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("citations", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("messages_by_session", "messages", ["session_id", "id"])


def downgrade() -> None:
    op.drop_index("messages_by_session", table_name="messages")
    op.drop_table("messages")
    op.drop_table("sessions")
