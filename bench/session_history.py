"""Cost of a chat session's length on one ask, and on reading its history, per database.

Run:  python bench/session_history.py [--lengths 10 1000 5000] [--asks 200]
          [--databases sqlite postgresql] [--dir /dev/shm]

An Assistant over the six-paper fake library of the answer tests (hashing embedder, no
model, no Chroma) answers in a session already holding `length` messages (the session is
filled with turns shaped like real ones, assistant turns carrying citations, then a few
real asks). Each timed ask reads the last `answer.history_messages` and adds two messages;
they are deleted again outside the timing, so every ask sees the same length. Also timed:
`recent` (what a turn reads) and `get` (the whole session, as GET /v1/sessions/{id}).
Prints p50/p95 ms per database. `postgresql` starts a real PostgreSQL (fsync on, like the
SQLite file) on loopback via tests/utils/postgres.py, unless --postgres-url is given.
Each ask commits twice; on a busy disk fsync dominates, so `--dir /dev/shm` (tmpfs) shows
the CPU cost of the session alone (SQLite only: PostgreSQL keeps its own data dir).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTIONS = ["Which papers pretrain vision transformers, and on what images?",
             "what about the second one?", "How do protein language models use attention?",
             "and which of those used CT scans?"]


def pct(lat: list[float]) -> str:
    return f"p50 {np.percentile(lat, 50):7.2f} ms, p95 {np.percentile(lat, 95):7.2f} ms"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


@contextlib.contextmanager
def database(kind: str, home: Path, pg_url: str | None) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'sessions.sqlite3'}"
    elif pg_url:
        yield pg_url
    else:
        from tests.utils.postgres import PostgresServer

        with PostgresServer(durable=True) as pg:
            yield pg.create_database("bench")


def fill(store: object, sid: str, n: int) -> None:
    """n messages shaped like real turns, in one transaction."""
    import sqlalchemy as sa

    from rag.db.schema import messages

    cites = json.dumps([{"n": i, "paper_id": f"p{i}", "title": f"A paper title number {i}",
                         "sentence": "A cited sentence of moderate length."} for i in (1, 2)])
    rows = [{"session_id": sid, "role": "user" if i % 2 == 0 else "assistant",
             "content": f"turn {i}: " + "words of a question or an answer " * 6,
             "citations": "[]" if i % 2 == 0 else cites,
             "created_at": "2026-01-01T00:00:00+00:00"} for i in range(n)]
    with store.db.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.insert(messages), rows)


def run(kind: str, url: str, lengths: list[int], asks: int, home: Path) -> None:
    import sqlalchemy as sa

    from rag.answer.service import Assistant
    from rag.db import Database
    from rag.db.schema import messages as M
    from rag.sessions import SessionStore
    from rag.settings import Settings
    from tests.rag.conftest import ANSWER_PAPERS, FakeLibrary

    settings = Settings(home=home, embed={"provider": "fake"})  # type: ignore[arg-type]
    db = Database(url)
    store = SessionStore(db)
    assistant = Assistant(settings, FakeLibrary(settings, ANSWER_PAPERS), sessions=store)
    warm = store.create().id
    for q in QUESTIONS * 5:  # first-call costs (imports, sentence vectors) out of the way
        assistant.ask(q, engine="extractive", session_id=warm)
    history = settings.answer.history_messages
    for length in lengths:
        sid = store.create().id
        fill(store, sid, max(0, length - 4))
        for i in range(min(length, 4) // 2):  # the latest turns by real asks
            assistant.ask(QUESTIONS[i % len(QUESTIONS)], engine="extractive", session_id=sid)
        lat = []
        for i in range(asks):
            t0 = time.perf_counter()
            assistant.ask(QUESTIONS[i % len(QUESTIONS)], engine="extractive", session_id=sid)
            lat.append((time.perf_counter() - t0) * 1000)
            with db.begin() as conn:  # back to `length` messages
                last = sa.select(M.c.id).where(M.c.session_id == sid) \
                    .order_by(M.c.id.desc()).limit(2).scalar_subquery()
                conn.execute(sa.delete(M).where(M.c.id.in_(last)))
        recent = timed(lambda sid=sid: store.recent(sid, history), asks)
        whole = timed(lambda sid=sid: store.get(sid), max(5, min(asks, 50)))
        print(f"{kind:10s} session of {length:5d} messages: ask {pct(lat)} | "
              f"recent({history}) {pct(recent)} | get (all) {pct(whole)}", flush=True)
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[10, 1000, 5000])
    ap.add_argument("--asks", type=int, default=200)
    ap.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"],
                    choices=["sqlite", "postgresql"])
    ap.add_argument("--postgres-url", default=None, help="An existing empty database.")
    ap.add_argument("--dir", type=Path, default=None, help="Where the temporary home goes.")
    args = ap.parse_args()
    for kind in args.databases:
        home = Path(tempfile.mkdtemp(prefix="paperchat-session-bench-", dir=args.dir))
        with database(kind, home, args.postgres_url) as url:
            run(kind, url, args.lengths, args.asks, home)


if __name__ == "__main__":
    main()
