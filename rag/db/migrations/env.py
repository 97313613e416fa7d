"""Alembic environment: runs on the connection rag.db.Database hands over (see upgrade)."""

from __future__ import annotations

from alembic import context

from rag.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - rag.db always passes one
    raise RuntimeError("run migrations through `paperchat db upgrade` (rag.db.Database)")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
