"""Chat sessions in SQLite (`<home>/sessions.sqlite3`): turns with their citations.

The schema version is `PRAGMA user_version`; `MIGRATIONS[i]` upgrades version i to i+1, so
a newer paperchat can migrate an older file in place. One short-lived connection per call
keeps the store safe to share between a server's threads. A new turn reads `recent` (the
last few messages, via the `messages_by_session` index); `get` reads a whole session.

Sessions have an `owner`: the user (an HTTP API key's name) who created them, NULL for the
default user (the CLI, the TUI, a server with a single key). The reading and changing
methods take `owner=`: a session of another owner is then NotFoundError, exactly as if it
did not exist. `ANY_OWNER` (the default) does not filter: local front ends see everything.
"""

from __future__ import annotations

import builtins
import enum
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from rag.errors import CollectionError, InputError, NotFoundError
from rag.models import Record

MIGRATIONS: list[str] = [
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        title TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        citations TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL
    );
    CREATE INDEX messages_by_session ON messages(session_id, id);
    """,
    """
    ALTER TABLE sessions ADD COLUMN owner TEXT;
    CREATE INDEX sessions_by_owner ON sessions(owner, updated_at);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
TITLE_CHARS = 80


class _AnyOwner(enum.Enum):
    ANY = "any"


ANY_OWNER = _AnyOwner.ANY
Owner = str | None | Literal[_AnyOwner.ANY]  # a user name, None = the default user


def _owned(owner: Owner) -> tuple[str, tuple[Any, ...]]:
    """SQL condition (on alias `s`) and its parameters for sessions visible to `owner`."""
    if owner is ANY_OWNER:
        return "1", ()
    return "s.owner IS ?", (owner,)


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


class SessionStore:
    """CRUD over chat sessions; every method opens and closes its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._migrate()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=10.0)
        except sqlite3.Error as e:
            raise CollectionError(f"{self.path}: cannot open the sessions database: {e}") from e
        with closing(conn):
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            with conn:  # one transaction: commit on success, roll back on error
                yield conn

    def _migrate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # two processes opening at once migrate once
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CollectionError(
                    f"{self.path}: sessions schema version {version} is newer than this "
                    f"paperchat supports ({SCHEMA_VERSION}); upgrade paperchat")
            for v in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[v].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {v + 1}")

    def schema_version(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def create(self, title: str | None = None, *, owner: str | None = None) -> SessionInfo:
        """A new, empty session of `owner` (None: the default user)."""
        now = _now()
        info = SessionInfo(id=uuid.uuid4().hex, title=_clean_title(title), created_at=now,
                           updated_at=now)
        with self._connect() as conn:
            conn.execute("INSERT INTO sessions (id, title, created_at, updated_at, owner) "
                         "VALUES (?, ?, ?, ?, ?)", (info.id, info.title, now, now, owner))
        return info

    def _info(self, conn: sqlite3.Connection, session_id: str,
              owner: Owner = ANY_OWNER) -> SessionInfo:
        where, params = _owned(owner)
        row = conn.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS n "
            f"FROM sessions s WHERE s.id = ? AND {where}", (session_id, *params)).fetchone()
        if row is None:
            raise NotFoundError(f"no chat session with id {session_id!r}")
        return _info(row)

    def _title(self, conn: sqlite3.Connection, session_id: str,
               owner: Owner = ANY_OWNER) -> str | None:
        """The session's title; NotFoundError if there is no such session (no count)."""
        where, params = _owned(owner)
        row = conn.execute(f"SELECT title FROM sessions s WHERE s.id = ? AND {where}",
                           (session_id, *params)).fetchone()
        if row is None:
            raise NotFoundError(f"no chat session with id {session_id!r}")
        title: str | None = row["title"]
        return title

    def check(self, session_id: str, *, owner: Owner = ANY_OWNER) -> None:
        """NotFoundError unless the session exists and `owner` may use it."""
        with self._connect() as conn:
            self._title(conn, session_id, owner)

    def get(self, session_id: str, *, owner: Owner = ANY_OWNER) -> Session:
        """A session with all its messages, oldest first (for showing or exporting it)."""
        with self._connect() as conn:
            info = self._info(conn, session_id, owner)
            rows = conn.execute("SELECT role, content, citations, created_at FROM messages "
                                "WHERE session_id = ? ORDER BY id", (session_id,)).fetchall()
        return Session(**dict(info), messages=[_message(r) for r in rows])

    def recent(self, session_id: str, limit: int) -> builtins.list[Message]:
        """The last `limit` messages, oldest first: what a new turn reads, at any length.

        Walks `messages_by_session` backwards, so the cost does not grow with the session.
        """
        if limit < 0:
            raise InputError(f"limit must be >= 0, got {limit}")
        with self._connect() as conn:
            self._title(conn, session_id)
            rows = conn.execute("SELECT role, content, citations, created_at FROM messages "
                                "WHERE session_id = ? ORDER BY id DESC LIMIT ?",
                                (session_id, limit)).fetchall()
        return [_message(r) for r in reversed(rows)]

    def rename(self, session_id: str, title: str, *, owner: Owner = ANY_OWNER) -> None:
        with self._connect() as conn:
            self._title(conn, session_id, owner)
            conn.execute("UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
                         (_clean_title(title), _now(), session_id))

    def delete(self, session_id: str, *, owner: Owner = ANY_OWNER) -> None:
        where, params = _owned(owner)
        with self._connect() as conn:
            if conn.execute(f"DELETE FROM sessions AS s WHERE s.id = ? AND {where}",
                            (session_id, *params)).rowcount == 0:
                raise NotFoundError(f"no chat session with id {session_id!r}")

    def append(self, session_id: str, role: str, content: str,
               citations: list[dict[str, Any]] | None = None) -> None:
        """Add a turn; the first user turn titles an untitled session."""
        if role not in ("user", "assistant"):
            raise InputError(f"role must be 'user' or 'assistant', got {role!r}")
        now = _now()
        with self._connect() as conn:
            title = self._title(conn, session_id)
            conn.execute("INSERT INTO messages (session_id, role, content, citations, "
                         "created_at) VALUES (?, ?, ?, ?, ?)",
                         (session_id, role, content, json.dumps(citations or []), now))
            title = title or (_clean_title(content) if role == "user" else None)
            conn.execute("UPDATE sessions SET updated_at = ?, title = ? WHERE id = ?",
                         (now, title, session_id))

    def list(self, *, owner: Owner = ANY_OWNER) -> builtins.list[SessionInfo]:
        """The sessions `owner` may see, most recently updated first."""
        where, params = _owned(owner)
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT s.*, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS n "
                f"FROM sessions s WHERE {where} ORDER BY s.updated_at DESC, s.rowid DESC",
                params).fetchall()
        return [_info(r) for r in rows]


def _info(row: sqlite3.Row) -> SessionInfo:
    return SessionInfo(id=row["id"], title=row["title"], created_at=row["created_at"],
                       updated_at=row["updated_at"], message_count=row["n"])


def _message(row: sqlite3.Row) -> Message:
    return Message(role=row["role"], content=row["content"],
                   citations=json.loads(row["citations"]), created_at=row["created_at"])


def _clean_title(title: str | None) -> str | None:
    if title is None:
        return None
    text = " ".join(title.split())
    if len(text) > TITLE_CHARS:
        text = text[:TITLE_CHARS - 1].rstrip() + "…"
    return text or None
