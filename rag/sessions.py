"""Chat sessions in the shared-state database (rag/db): turns with their citations.

By default that is the SQLite file `<home>/sessions.sqlite3`; with PAPERCHAT_DATABASE_URL
a PostgreSQL database that several server replicas share. The schema is Alembic's
(rag/db/migrations); a file of an older release is migrated in place when opened. Each
call runs in one short transaction on a pooled connection, so the store is safe to share
between a server's threads. A new turn reads `recent` (the last few messages, via the
`messages_by_session` index); `get` reads a whole session.

Sessions have an `owner`: the user (an HTTP API key's name) who created them, NULL for the
default user (the CLI, the TUI, a server with a single key). The reading and changing
methods take `owner=`: a session of another owner is then NotFoundError, exactly as if it
did not exist. `ANY_OWNER` (the default) does not filter: local front ends see everything.
"""

from __future__ import annotations

import builtins
import enum
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection, RowMapping

from rag.db import Database
from rag.db.schema import messages as M
from rag.db.schema import sessions as S
from rag.errors import InputError, NotFoundError
from rag.models import Record

if TYPE_CHECKING:
    from rag.settings import Settings

TITLE_CHARS = 80


class _AnyOwner(enum.Enum):
    ANY = "any"


ANY_OWNER = _AnyOwner.ANY
Owner = str | None | Literal[_AnyOwner.ANY]  # a user name, None = the default user


def _owned(owner: Owner) -> sa.ColumnElement[bool]:
    """The condition on `sessions` for the sessions `owner` may see."""
    if owner is ANY_OWNER:
        return sa.true()
    return S.c.owner.is_not_distinct_from(owner)  # NULL = the default user


class SessionInfo(Record):
    """A chat session without its messages (GET /v1/sessions lists these)."""

    id: str
    title: str | None
    created_at: str = Field(description="ISO 8601, UTC.")
    updated_at: str
    message_count: int = 0


class Message(Record):
    """One turn of a session; an assistant turn keeps the citations its [n] refer to."""

    role: Literal["user", "assistant"]
    content: str
    citations: list[dict[str, Any]] = Field(default_factory=list)
    created_at: str = ""


class Session(SessionInfo):
    """A session with its messages, oldest first: the info's fields plus `messages`."""

    messages: list[Message] = Field(default_factory=list)

    @property
    def info(self) -> SessionInfo:
        """The session without its messages."""
        return SessionInfo.model_validate(self.model_dump(exclude={"messages"}))

    def history(self) -> list[dict[str, Any]]:
        """Turns as the answer layer takes them: role, content, citations."""
        return history(self.messages)


def history(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as the answer layer takes them: role, content, citations."""
    return [{"role": m.role, "content": m.content, "citations": m.citations}
            for m in messages]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


_COUNT = (sa.select(sa.func.count()).select_from(M).where(M.c.session_id == S.c.id)
          .scalar_subquery().label("n"))
_MESSAGE_COLUMNS = (M.c.role, M.c.content, M.c.citations, M.c.created_at)


class SessionStore:
    """CRUD over chat sessions; every method is one transaction of its own."""

    def __init__(self, db: Database | Path | str) -> None:
        """`db`: the shared-state Database, or the path of a SQLite file (opened and
        migrated here)."""
        self.db = db if isinstance(db, Database) else Database.sqlite(Path(db))

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionStore:
        """The store in the configured database (PAPERCHAT_DATABASE_URL, else the SQLite
        file under the data directory), migrated on first use."""
        return cls(Database.from_settings(settings, lazy=True))

    @property
    def path(self) -> Path | None:
        """The SQLite file, when the database is one."""
        return self.db.path

    def schema_version(self) -> str | None:
        """The database's Alembic revision."""
        return self.db.revision()

    def create(self, title: str | None = None, *, owner: str | None = None) -> SessionInfo:
        """A new, empty session of `owner` (None: the default user)."""
        now = _now()
        info = SessionInfo(id=uuid.uuid4().hex, title=_clean_title(title), created_at=now,
                           updated_at=now)
        with self.db.begin() as conn:
            conn.execute(S.insert().values(id=info.id, title=info.title, created_at=now,
                                           updated_at=now, owner=owner))
        return info

    def _info(self, conn: Connection, session_id: str,
              owner: Owner = ANY_OWNER) -> SessionInfo:
        row = conn.execute(sa.select(S, _COUNT).where(S.c.id == session_id, _owned(owner))
                           ).mappings().first()
        if row is None:
            raise NotFoundError(f"no chat session with id {session_id!r}")
        return _info(row)

    def _title(self, conn: Connection, session_id: str,
               owner: Owner = ANY_OWNER) -> str | None:
        """The session's title; NotFoundError if there is no such session (no count)."""
        row = conn.execute(sa.select(S.c.title).where(S.c.id == session_id, _owned(owner))
                           ).first()
        if row is None:
            raise NotFoundError(f"no chat session with id {session_id!r}")
        title: str | None = row[0]
        return title

    def check(self, session_id: str, *, owner: Owner = ANY_OWNER) -> None:
        """NotFoundError unless the session exists and `owner` may use it."""
        with self.db.begin() as conn:
            self._title(conn, session_id, owner)

    def get(self, session_id: str, *, owner: Owner = ANY_OWNER) -> Session:
        """A session with all its messages, oldest first (for showing or exporting it)."""
        with self.db.begin() as conn:
            info = self._info(conn, session_id, owner)
            rows = conn.execute(sa.select(*_MESSAGE_COLUMNS)
                                .where(M.c.session_id == session_id)
                                .order_by(M.c.id)).mappings().all()
        return Session(**dict(info), messages=[_message(r) for r in rows])

    def recent(self, session_id: str, limit: int) -> builtins.list[Message]:
        """The last `limit` messages, oldest first: what a new turn reads, at any length.

        Walks `messages_by_session` backwards, so the cost does not grow with the session.
        """
        if limit < 0:
            raise InputError(f"limit must be >= 0, got {limit}")
        with self.db.begin() as conn:
            self._title(conn, session_id)
            rows = conn.execute(sa.select(*_MESSAGE_COLUMNS)
                                .where(M.c.session_id == session_id)
                                .order_by(M.c.id.desc()).limit(limit)).mappings().all()
        return [_message(r) for r in reversed(rows)]

    def rename(self, session_id: str, title: str, *, owner: Owner = ANY_OWNER) -> None:
        with self.db.begin() as conn:
            self._title(conn, session_id, owner)
            conn.execute(S.update().where(S.c.id == session_id)
                         .values(title=_clean_title(title), updated_at=_now()))

    def delete(self, session_id: str, *, owner: Owner = ANY_OWNER) -> None:
        with self.db.begin() as conn:
            if conn.execute(S.delete().where(S.c.id == session_id, _owned(owner))
                            ).rowcount == 0:
                raise NotFoundError(f"no chat session with id {session_id!r}")

    def append(self, session_id: str, role: str, content: str,
               citations: list[dict[str, Any]] | None = None) -> None:
        """Add a turn; the first user turn titles an untitled session."""
        if role not in ("user", "assistant"):
            raise InputError(f"role must be 'user' or 'assistant', got {role!r}")
        now = _now()
        with self.db.begin() as conn:
            title = self._title(conn, session_id)
            conn.execute(M.insert().values(session_id=session_id, role=role, content=content,
                                           citations=json.dumps(citations or []),
                                           created_at=now))
            title = title or (_clean_title(content) if role == "user" else None)
            conn.execute(S.update().where(S.c.id == session_id)
                         .values(updated_at=now, title=title))

    def list(self, *, owner: Owner = ANY_OWNER) -> builtins.list[SessionInfo]:
        """The sessions `owner` may see, most recently updated first."""
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(S, _COUNT).where(_owned(owner))
                                .order_by(S.c.updated_at.desc(), S.c.created_at.desc(),
                                          S.c.id.desc())).mappings().all()
        return [_info(r) for r in rows]


def _info(row: RowMapping) -> SessionInfo:
    return SessionInfo(id=row["id"], title=row["title"], created_at=row["created_at"],
                       updated_at=row["updated_at"], message_count=row["n"])


def _message(row: RowMapping) -> Message:
    return Message(role=row["role"], content=row["content"],
                   citations=json.loads(row["citations"]), created_at=row["created_at"])


def _clean_title(title: str | None) -> str | None:
    if title is None:
        return None
    text = " ".join(title.split())
    if len(text) > TITLE_CHARS:
        text = text[:TITLE_CHARS - 1].rstrip() + "…"
    return text or None
