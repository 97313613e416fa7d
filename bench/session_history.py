"""Cost of a chat session's length on one ask (extractive engine, in-process).

Run:  python bench/session_history.py [--lengths 10 1000] [--asks 200] [--dir /dev/shm]

An Assistant over the six-paper fake library of the answer tests (hashing embedder, no
model, no Chroma) answers in a session already holding `length` messages (filled by real
asks, so assistant turns carry citations). Each timed ask adds two messages; they are
deleted again outside the timing, so every ask sees the same length. Prints p50/p95 ms.
Each ask commits twice; on a busy disk fsync dominates, so `--dir /dev/shm` (tmpfs) shows
the CPU cost of the session alone.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTIONS = ["Which papers pretrain vision transformers, and on what images?",
             "what about the second one?", "How do protein language models use attention?",
             "and which of those used CT scans?"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[10, 1000])
    ap.add_argument("--asks", type=int, default=200)
    ap.add_argument("--dir", type=Path, default=None, help="Where the temporary home goes.")
    args = ap.parse_args()

    from rag.answer.service import Assistant
    from rag.sessions import SessionStore
    from rag.settings import Settings
    from tests.rag.conftest import ANSWER_PAPERS, FakeLibrary

    home = Path(tempfile.mkdtemp(prefix="paperchat-session-bench-", dir=args.dir))
    settings = Settings(home=home, embed={"provider": "fake"})  # type: ignore[arg-type]
    store = SessionStore(home / "sessions.sqlite3")
    assistant = Assistant(settings, FakeLibrary(settings, ANSWER_PAPERS), sessions=store)
    warm = store.create().id
    for q in QUESTIONS * 5:  # first-call costs (imports, sentence vectors) out of the way
        assistant.ask(q, engine="extractive", session_id=warm)
    for length in args.lengths:
        sid = store.create().id
        for i in range(length // 2):
            assistant.ask(QUESTIONS[i % len(QUESTIONS)], engine="extractive", session_id=sid)
        lat = []
        for i in range(args.asks):
            t0 = time.perf_counter()
            assistant.ask(QUESTIONS[i % len(QUESTIONS)], engine="extractive", session_id=sid)
            lat.append((time.perf_counter() - t0) * 1000)
            with sqlite3.connect(store.path) as conn:  # back to `length` messages
                conn.execute("DELETE FROM messages WHERE id IN (SELECT id FROM messages "
                             "WHERE session_id = ? ORDER BY id DESC LIMIT 2)", (sid,))
        lat.sort()
        print(f"session of {length:5d} messages: ask p50 {statistics.median(lat):6.2f} ms, "
              f"p95 {lat[round(0.95 * (len(lat) - 1))]:6.2f} ms ({args.asks} asks)")


if __name__ == "__main__":
    main()
