"""Queries keep answering during an HTTP ingest, whose embedding runs in a niced worker
process; readers see the new papers batch by batch, as the route's description says."""

from __future__ import annotations

import os
import threading

import httpx
import pytest

from rag.library import Library
from rag.settings import Settings
from tests.server.conftest import QUESTION
from tests.server.live import live_server

NEW = 640  # ten batches of 64 papers


def _axolotl(n: int) -> list[dict[str, object]]:
    return [{"id": f"axo{i}", "title": f"Axolotl limb regeneration study {i}",
             "abstract": f"Axolotls regrow amputated limbs; experiment {i} tracks blastema "
             f"cells over {i % 30 + 1} days."} for i in range(n)]


@pytest.mark.slow
def test_queries_answer_during_an_ingest_that_embeds_in_a_worker_process(
        settings: Settings, library: Library) -> None:
    observed: list[tuple[int, set[str]]] = []  # (paper count after, BM25 ids) per probe
    statuses: list[int] = []
    done = threading.Event()
    served = settings.with_overrides(server__ingest_embedding="process")
    with live_server(served) as server:
        def read() -> None:
            with httpx.Client(base_url=server.base_url, timeout=60) as http:
                while not done.is_set():
                    bm25 = http.get("/search", params={"q": "axolotl", "mode": "bm25"})
                    ask = http.post("/ask", json={"question": QUESTION})
                    count = http.get("/papers", params={"limit": 1})
                    statuses.extend([bm25.status_code, ask.status_code, count.status_code])
                    if bm25.status_code == count.status_code == 200:
                        ids = {h["paper_id"] for h in bm25.json()["results"]}
                        observed.append((count.json()["count"], ids))

        readers = [threading.Thread(target=read) for _ in range(3)]
        for r in readers:
            r.start()
        with httpx.Client(base_url=server.base_url, timeout=600) as http:
            report = http.post("/ingest", json=_axolotl(NEW))
            done.set()
            for r in readers:
                r.join()
            after = http.get("/search", params={"q": "axolotl", "mode": "bm25", "k": 5})
        worker = server.app.state.ingest_embedder.worker()

    assert report.status_code == 200, report.text
    assert report.json()["added"] == NEW and set(statuses) == {200}
    # Embedded in another process, at a lower priority than the server's.
    assert worker["pid"] != os.getpid() and worker["nice"] > os.nice(0)
    assert worker["embedded"] >= report.json()["chunks"] - 12 >= NEW
    # Readers saw the papers arrive batch by batch (counts between old and new, growing)...
    counts = [c for c, _ in observed]
    assert all(12 <= c <= 12 + NEW for c in counts)
    assert any(12 < c < 12 + NEW for c in counts), counts
    # ...and keyword (BM25) matches for them only once the whole ingest had finished.
    assert all(not ids for c, ids in observed if c < 12 + NEW)
    assert {h["paper_id"] for h in after.json()["results"]} <= {f"axo{i}" for i in range(NEW)}
    assert len(after.json()["results"]) == 5
