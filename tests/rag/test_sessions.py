"""SessionStore: CRUD, ordering, titles, recent messages, schema version and migrations,
thread safety."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.errors import CollectionError, InputError, NotFoundError
from rag.sessions import MIGRATIONS, SCHEMA_VERSION, SessionStore


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions.sqlite3")


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


def test_schema_version_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SessionStore(path)
    assert store.schema_version() == SCHEMA_VERSION == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    info = store.create("kept")
    assert SessionStore(path).get(info.id).info.title == "kept"  # reopening migrates nothing


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    SessionStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CollectionError, match="newer"):
        SessionStore(path)


def test_deleting_a_session_deletes_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SessionStore(path)
    info = store.create()
    store.append(info.id, "user", "q")
    store.delete(info.id)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


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
    """The plan of the query `recent` sends: an index search, no sort of the session."""
    statements: list[str] = []

    class Traced(SessionStore):
        @contextmanager
        def _connect(self) -> Iterator[sqlite3.Connection]:
            with super()._connect() as conn:
                conn.set_trace_callback(statements.append)
                yield conn

    store = Traced(tmp_path / "s.sqlite3")
    info = store.create()
    store.append(info.id, "user", "q")
    statements.clear()
    store.recent(info.id, 20)
    [query] = [s for s in statements if "FROM messages" in s]
    with sqlite3.connect(store.path) as conn:
        plan = " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "USING INDEX messages_by_session (session_id=?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # ORDER BY id DESC comes from the index


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


def test_a_version_1_file_is_migrated_and_its_sessions_belong_to_the_default_user(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("INSERT INTO sessions VALUES ('old', 'from v1', '2024-01-01', "
                     "'2024-01-01')")
        conn.execute("PRAGMA user_version = 1")
    store = SessionStore(path)
    assert store.schema_version() == 2
    assert [s.id for s in store.list(owner=None)] == ["old"]
    assert store.list(owner="alice") == []
