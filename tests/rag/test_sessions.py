"""SessionStore: CRUD, ordering, titles, recent messages, owners, thread safety, on both
databases (the SQLite default and a real PostgreSQL); SQLite files of older releases."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from rag.db import HEAD, Database
from rag.errors import DatabaseError, InputError, NotFoundError
from rag.sessions import SessionStore

# The schema of the SQLite sessions files written before Alembic (versions 1 and 2).
LEGACY_V1 = """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY, title TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL, citations TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL);
    CREATE INDEX messages_by_session ON messages(session_id, id);
    PRAGMA user_version = 1;
"""
LEGACY_V2 = """
    ALTER TABLE sessions ADD COLUMN owner TEXT;
    CREATE INDEX sessions_by_owner ON sessions(owner, updated_at);
    PRAGMA user_version = 2;
"""


@pytest.fixture
def store(database_url: str) -> Iterator[SessionStore]:
    db = Database(database_url)
    yield SessionStore(db)
    db.dispose()


def test_crud_round_trip(store: SessionStore) -> None:
    info = store.create("First chat")
    assert info.title == "First chat" and info.message_count == 0
    store.append(info.id, "user", "What is MAE?")
    cites = [{"n": 1, "paper_id": "mae", "title": "Masked Autoencoders"}]
    store.append(info.id, "assistant", "It masks patches [1].", cites)
    session = store.get(info.id)
    assert session.info.message_count == 2
    assert [(m.role, m.content) for m in session.messages] == [
        ("user", "What is MAE?"), ("assistant", "It masks patches [1].")]
    assert session.messages[1].citations == cites and session.messages[0].citations == []
    assert session.history()[1] == {"role": "assistant", "content": "It masks patches [1].",
                                    "citations": cites}
    store.rename(info.id, "  Renamed\n chat ")
    assert store.get(info.id).info.title == "Renamed chat"
    store.delete(info.id)
    with pytest.raises(NotFoundError):
        store.get(info.id)
    assert store.list() == []


def test_missing_sessions_raise_not_found(store: SessionStore) -> None:
    for call in (lambda: store.get("nope"), lambda: store.delete("nope"),
                 lambda: store.rename("nope", "x"), lambda: store.append("nope", "user", "x")):
        with pytest.raises(NotFoundError, match="nope"):
            call()


def test_append_validates_role(store: SessionStore) -> None:
    info = store.create()
    with pytest.raises(InputError):
        store.append(info.id, "system", "be evil")


def test_list_newest_first_and_auto_title(store: SessionStore) -> None:
    a, b = store.create(), store.create("B")
    assert [s.id for s in store.list()] == [b.id, a.id]
    store.append(a.id, "user", "A question that becomes the title " + "x" * 200)
    listed = store.list()
    assert [s.id for s in listed] == [a.id, b.id]  # a was updated last
    title = listed[0].title or ""
    assert title.startswith("A question that becomes the title")
    assert len(title) <= 80 and listed[0].message_count == 1
    store.append(b.id, "user", "not a title")
    assert store.get(b.id).info.title == "B"  # an explicit title is kept


def test_a_new_database_is_migrated_to_the_newest_revision(database_url: str) -> None:
    db = Database(database_url)
    store = SessionStore(db)
    assert store.schema_version() == HEAD
    info = store.create("kept")
    again = Database(database_url)  # reopening migrates nothing and sees the data
    assert SessionStore(again).get(info.id).info.title == "kept"
    assert again.upgrade() == (HEAD, HEAD)
    db.dispose(), again.dispose()


def test_a_database_of_a_newer_release_is_refused(database_url: str) -> None:
    db = Database(database_url)
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseError, match="newer"):
        Database(database_url)
    db.dispose()


def test_deleting_a_session_deletes_its_messages(store: SessionStore) -> None:
    info = store.create()
    store.append(info.id, "user", "q")
    store.delete(info.id)
    with store.db.begin() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM messages")).scalar() == 0


def test_concurrent_appends_from_threads(store: SessionStore) -> None:
    info = store.create()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                store.append(info.id, "user", f"t{n}-{i}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.get(info.id).info.message_count == 40


def test_recent_returns_the_last_messages_oldest_first(store: SessionStore) -> None:
    info = store.create()
    for i in range(7):
        store.append(info.id, "user" if i % 2 == 0 else "assistant", f"m{i}",
                     [{"n": 1, "title": f"t{i}"}] if i % 2 else None)
    recent = store.recent(info.id, 3)
    assert [m.content for m in recent] == ["m4", "m5", "m6"]
    assert recent[1].citations == [{"n": 1, "title": "t5"}] and recent[0].created_at
    assert [m.content for m in store.recent(info.id, 100)] == [f"m{i}" for i in range(7)]
    assert store.recent(info.id, 0) == []
    assert store.recent(store.create().id, 5) == []
    with pytest.raises(NotFoundError, match="nope"):
        store.recent("nope", 5)
    with pytest.raises(InputError):
        store.recent(info.id, -1)


def test_recent_walks_the_session_index_backwards(tmp_path: Path) -> None:
    """The plan of the query `recent` sends on SQLite: an index search, no sort."""
    store = SessionStore(tmp_path / "s.sqlite3")
    statements: list[str] = []

    @event.listens_for(store.db.engine, "before_cursor_execute")
    def _trace(_c: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    info = store.create()
    store.append(info.id, "user", "q")
    statements.clear()
    store.recent(info.id, 20)
    [query] = [s for s in statements if "FROM messages" in s]
    with sqlite3.connect(tmp_path / "s.sqlite3") as conn:
        params = (info.id, 20, 0)[:query.count("?")]
        plan = " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {query}", params))
    assert "USING INDEX messages_by_session (session_id=?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # ORDER BY id DESC comes from the index


def test_recent_walks_the_session_index_backwards_on_postgresql(postgres_url: str) -> None:
    db = Database(postgres_url)
    store = SessionStore(db)
    info = store.create()
    for i in range(50):
        store.append(info.id, "user", f"q{i}")
    with db.begin() as conn:
        conn.execute(sa.text("ANALYZE messages"))
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # a 50-row table otherwise
        plan = "\n".join(r[0] for r in conn.execute(sa.text(
            "EXPLAIN SELECT role, content FROM messages WHERE session_id = :s "
            "ORDER BY id DESC LIMIT 20"), {"s": info.id}))
    assert "Index Scan Backward using messages_by_session" in plan, plan
    assert "Sort" not in plan, plan
    db.dispose()


def test_sessions_of_another_owner_do_not_exist_for_them(store: SessionStore) -> None:
    alice = store.create("alice's", owner="alice")
    default = store.create("the default user's")
    for owner in ("bob", None):
        with pytest.raises(NotFoundError):
            store.get(alice.id, owner=owner)
        with pytest.raises(NotFoundError):
            store.check(alice.id, owner=owner)
        with pytest.raises(NotFoundError):
            store.rename(alice.id, "taken", owner=owner)
        with pytest.raises(NotFoundError):
            store.delete(alice.id, owner=owner)
    with pytest.raises(NotFoundError):
        store.get(default.id, owner="alice")
    assert [s.id for s in store.list(owner="alice")] == [alice.id]
    assert [s.id for s in store.list(owner=None)] == [default.id]
    assert store.list(owner="bob") == []
    assert {s.id for s in store.list()} == {alice.id, default.id}  # local front ends: all
    assert store.get(alice.id, owner="alice").info.title == "alice's"
    store.delete(alice.id, owner="alice")
    assert store.list(owner="alice") == []


@pytest.mark.parametrize("version", [1, 2])
def test_a_sessions_file_of_an_older_release_is_migrated_with_its_sessions(
        tmp_path: Path, version: int) -> None:
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(LEGACY_V1 if version == 1 else LEGACY_V1 + LEGACY_V2)
        conn.execute("INSERT INTO sessions (id, title, created_at, updated_at) VALUES "
                     "('old', 'from before', '2024-01-01', '2024-01-01')")
        conn.execute("INSERT INTO messages (session_id, role, content, citations, created_at) "
                     "VALUES ('old', 'user', 'q1', '[]', '2024-01-01'), "
                     "('old', 'assistant', 'a1 [1]', '[{\"n\": 1}]', '2024-01-01')")
    store = SessionStore(path)
    assert store.schema_version() == HEAD
    assert [s.id for s in store.list(owner=None)] == ["old"]  # the default user's
    assert store.list(owner="alice") == []
    old = store.get("old")
    assert [(m.content, m.citations) for m in old.messages] == [("q1", []),
                                                                 ("a1 [1]", [{"n": 1}])]
    store.append("old", "user", "q2")  # the migrated file takes new turns
    assert [m.content for m in store.recent("old", 2)] == ["a1 [1]", "q2"]
    with sqlite3.connect(path) as conn:  # an older release still reads it as version 2
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_sessions_file_of_an_unknown_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(LEGACY_V1)
        conn.execute("PRAGMA user_version = 7")
    with pytest.raises(DatabaseError, match="newer"):
        SessionStore(path)
