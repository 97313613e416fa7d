"""The tables of the shared-state database, as SQLAlchemy Core metadata.

The Alembic revisions in rag/db/migrations create exactly these (a test compares them);
the queries in rag/sessions.py and rag/db/writers.py are written against them. Timestamps of
sessions and messages are ISO 8601 text in UTC, as the first SQLite releases stored them,
so old files need no conversion and ordering by text is ordering by time.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite autoincrements only an INTEGER PRIMARY KEY; elsewhere 64 bits.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("owner", sa.Text),  # the user (API key name); NULL = the default user
    sa.Index("sessions_by_owner", "owner", "updated_at"),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("role", sa.Text, sa.CheckConstraint("role IN ('user', 'assistant')"),
              nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("citations", sa.Text, nullable=False, server_default="[]"),  # JSON list
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("messages_by_session", "session_id", "id"),
    sqlite_autoincrement=True,
)

# One writer per collection across machines: the row is the lease, `expires_at` (the
# database's clock, seconds since the epoch) is pushed forward by the holder's heartbeat.
ingest_leases = sa.Table(
    "ingest_leases", metadata,
    sa.Column("collection", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),  # host:pid:random, for messages and fencing
    sa.Column("acquired_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
