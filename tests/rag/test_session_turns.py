"""A session turn reads only the last messages: rows and SQLite work stay flat with length
(PostgreSQL's plan for the same query: tests/rag/test_sessions.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from rag.answer.service import Assistant
from rag.sessions import SessionStore
from rag.settings import AnswerSettings
from tests.rag.conftest import ANSWER_PAPERS
from tests.utils.fake_openai import FakeOpenAI

VISION_Q = "Which papers pretrain vision transformers, and on what images?"
MAE, MEDVIT, PROTEIN = ANSWER_PAPERS[0], ANSWER_PAPERS[2], ANSWER_PAPERS[4]

SESSION_HISTORY_MESSAGES = AnswerSettings().history_messages  # the default


class CountingStore(SessionStore):
    """Counts, per SQL statement, the rows it returned and SQLite VM instructions run."""

    def __init__(self, path: Path) -> None:
        self.rows: list[tuple[str, int]] = []  # (statement, rows returned)
        self.steps = 0
        super().__init__(path)
        event.listen(self.db.engine, "checkout", self._instrument)

    def reset(self) -> None:
        self.rows, self.steps = [], 0

    def _instrument(self, conn: sqlite3.Connection, *_: Any) -> None:
        conn.set_trace_callback(lambda sql: self.rows.append((sql, 0)))
        conn.set_progress_handler(self._step, 1)
        conn.row_factory = self._row

    def _step(self) -> int:
        self.steps += 1
        return 0  # go on

    def _row(self, cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> tuple[Any, ...]:
        sql, n = self.rows[-1]
        self.rows[-1] = (sql, n + 1)
        return row

    def message_rows(self) -> list[int]:
        return [n for sql, n in self.rows if "FROM messages" in sql]


def fill(store: SessionStore, n: int) -> str:
    """A session of n messages: old turns cite one protein paper; the last cites MAE, MedViT."""
    sid = store.create("long chat").id
    rows: list[tuple[str, str, str]] = []
    for i in range(n // 2 - 1):
        rows.append(("user", f"filler question {i} about protein contacts", "[]"))
        rows.append(("assistant", f"filler answer {i} [1].", json.dumps(
            [{"n": 1, "paper_id": PROTEIN.id, "title": PROTEIN.title}])))
    rows.append(("user", VISION_Q, "[]"))
    rows.append(("assistant", "MAE masks patches [1]; MedViT pretrains on CT [2].",
                 json.dumps([{"n": 1, "paper_id": MAE.id, "title": MAE.title},
                             {"n": 2, "paper_id": MEDVIT.id, "title": MEDVIT.title}])))
    with sqlite3.connect(store.path) as conn:
        conn.executemany("INSERT INTO messages (session_id, role, content, citations, "
                         "created_at) VALUES (?, ?, ?, ?, '2024-01-01T00:00:00+00:00')",
                         [(sid, *r) for r in rows])
    return sid


def test_a_turn_reads_at_most_the_last_n_messages_and_uses_the_latest(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3")
    sid = fill(store, 500)
    assistant = make_assistant(llm=False, sessions=store)
    store.reset()
    answer = assistant.ask("what about the second one?", session_id=sid)
    assert answer.standalone_question == f"what about {MEDVIT.title}?"  # the latest answer
    reads = store.message_rows()
    assert reads and max(reads) == SESSION_HISTORY_MESSAGES < 500
    assert sum(n for _, n in store.rows) <= SESSION_HISTORY_MESSAGES + 5  # + session lookups
    assert store.get(sid).info.message_count == 502  # the turn was still saved


def test_sqlite_work_per_turn_does_not_grow_with_the_session(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3")
    assistant = make_assistant(llm=False, sessions=store)
    steps = {}
    for length in (2 * SESSION_HISTORY_MESSAGES, 2000):
        sid = fill(store, length)
        store.reset()
        assistant.ask("what about the second one?", session_id=sid)
        steps[length] = store.steps
    # Loading the whole session (or counting its messages) would be ~50x the work at 2,000.
    assert steps[2000] <= 1.2 * steps[2 * SESSION_HISTORY_MESSAGES], steps


def test_llm_prompts_carry_the_latest_turns_only(make_assistant: Callable[..., Assistant],
                                                 fake_openai: FakeOpenAI,
                                                 tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.sqlite3")
    sid = fill(store, 500)
    fake_openai.queue(f"How much did {MEDVIT.title} improve the Dice score?", "3 points [1].")
    make_assistant(sessions=store, llm__context_window=128_000).ask(
        "what about the second one?", session_id=sid)
    condense, final = fake_openai.chat_requests[-2:]
    convo = condense["messages"][1]["content"]
    assert VISION_Q in convo and f"[2] {MEDVIT.title}" in convo
    assert "filler question 0 " not in convo  # the oldest turns were never read
    history = final["messages"][1:-1]  # between the system prompt and the question
    assert len(history) == SESSION_HISTORY_MESSAGES
    assert history[-2]["content"] == VISION_Q
