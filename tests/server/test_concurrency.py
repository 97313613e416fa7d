"""Ingest while queries arrive: every query is answered, from the old or the new index."""

from __future__ import annotations

import threading
import time

import httpx

from rag.library import Library
from rag.settings import Settings
from tests.conftest import make_papers
from tests.server.conftest import QUESTION
from tests.server.live import live_server


def _papers_json(prefix: str, n: int) -> list[dict[str, object]]:
    return [{"id": p.id, "title": p.title, "abstract": p.abstract}
            for p in make_papers(n, prefix=prefix)]


def test_queries_during_ingest_never_fail(settings: Settings, library: Library) -> None:
    old = {p.id for p in library.papers()}
    new, more = _papers_json("q", 40), _papers_json("r", 30)
    statuses: list[int] = []
    finished: list[float] = []
    seen_ids: set[str] = set()
    done = threading.Event()

    with live_server(settings) as server:
        def query() -> None:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                while not done.is_set():
                    a = http.post("/ask", json={"question": QUESTION})
                    s = http.get("/search", params={"q": "protein language model", "k": 5})
                    statuses.extend([a.status_code, s.status_code])
                    finished.append(time.monotonic())
                    if s.status_code == 200:
                        seen_ids.update(h["paper_id"] for h in s.json()["results"])
                    if a.status_code == 200:
                        seen_ids.update(c["paper_id"] for c in a.json()["citations"])

        workers = [threading.Thread(target=query) for _ in range(4)]
        for w in workers:
            w.start()
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            start = time.monotonic()
            steps = [http.post("/ingest", json=new),
                     http.post("/ingest", json=more),
                     http.post("/ingest", json=new[:20],
                               params={"prune": "true", "confirm": "true"})]
            end = time.monotonic()
        done.set()
        for w in workers:
            w.join()
        final = httpx.get(f"{server.base_url}/papers").json()["count"]

    assert [s.status_code for s in steps] == [200, 200, 200], [s.text for s in steps]
    assert set(statuses) == {200}
    overlapping = sum(start < t < end for t in finished)
    assert overlapping >= 4  # queries really overlapped the ingest
    assert seen_ids <= old | {str(p["id"]) for p in new + more}
    assert final == 20
