"""The Chroma server killed and restarted during a load run (issue 7, faults under load).

While `chroma run` is gone, /readyz is 503 and requests get a clean 503 (never a 500);
after it restarts on the same port and path, the app recovers without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.errors import StoreUnavailable
from rag.library import Library
from rag.settings import Settings
from tests.conftest import make_papers
from tests.reliability.load import LoadRun
from tests.reliability.procs import ChromaProcess
from tests.server.live import live_server

pytestmark = pytest.mark.slow  # a Chroma server process, killed and restarted

KINDS = ["ask", "stream", "chat", "chat_stream", "search"]
NEW = [{"id": "late1", "title": "Tidal energy forecasting",
        "abstract": "We forecast tidal energy output with gradient boosting."}]


def _settings(tmp_path: Path, chroma: ChromaProcess) -> Settings:
    return Settings(home=tmp_path / "home", chroma_url=chroma.url,  # type: ignore[arg-type]
                    embed={"provider": "fake"})


def _wait_readyz(url: str, status: int, timeout: float) -> tuple[float, dict[str, object]]:
    """(seconds until /readyz answered `status`, its body); fails after `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        r = httpx.get(f"{url}/readyz", timeout=5)
        if r.status_code == status:
            return time.monotonic() - t0, r.json()
        time.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status} within {timeout} s")


def test_chroma_killed_and_restarted_under_load(tmp_path: Path) -> None:
    chroma = ChromaProcess(tmp_path / "chroma").start()
    try:
        settings = _settings(tmp_path, chroma)
        Library(settings).ingest(make_papers(30))
        with live_server(settings) as server:
            run = LoadRun(server.base_url, workers=4, kinds=KINDS, max_requests=5000,
                          max_seconds=60, timeout=15).start()
            try:
                assert run.wait_for(lambda o: len(o) >= 40, 20)
                killed = time.monotonic()
                chroma.kill()
                down_s, down = _wait_readyz(server.url, 503, 10)
                assert run.wait_for(
                    lambda o: sum(x.started > killed and x.category == "unavailable"
                                  for x in o) >= 10, 10)
                ingest_down = httpx.post(f"{server.base_url}/ingest", json=NEW, timeout=30)
                restarted = time.monotonic()
                chroma.start()
                up_s, up = _wait_readyz(server.url, 200, 30)
                recovered = time.monotonic()
                assert run.wait_for(
                    lambda o: sum(x.started > recovered and x.category == "answer"
                                  for x in o) >= 40, 20)
                ingest_up = httpx.post(f"{server.base_url}/ingest", json=NEW, timeout=30)
                hits = httpx.get(f"{server.base_url}/search",
                                 params={"q": "tidal energy", "k": 1}, timeout=10).json()
            finally:
                run.stop()
    finally:
        chroma.stop()

    tally = run.tally()
    summary = (f"{dict(tally)}; readyz 503 after {down_s:.2f} s, 200 {up_s:.2f} s after "
               f"the restart; outage {recovered - killed:.1f} s")
    print(summary)  # shown with pytest -rP
    assert not run.bad(), f"{summary}; bad: {run.bad()[:5]}"
    assert not [o for o in run.outcomes if o.status == 500]
    assert down["ready"] is False and down["problem"] == "store_unavailable"
    assert up["ready"] is True and up["papers"] == 30
    during = [o for o in run.outcomes if killed < o.started and o.started + o.seconds
              < restarted]
    assert during and all(o.category == "unavailable" for o in during), summary
    assert {o.code for o in during} <= {"store_unavailable", "collection_error"}
    # Once /readyz says ready, every request is answered again: nothing stale was cached.
    after = run.since(recovered)
    assert len(after) >= 40 and all(o.category == "answer" for o in after), summary
    assert ingest_down.status_code == 503, ingest_down.text
    assert ingest_down.json()["error"]["code"] == "store_unavailable"
    assert ingest_up.status_code == 200 and ingest_up.json()["papers"] == 31, ingest_up.text
    assert hits["results"][0]["paper_id"] == "late1"


def test_server_started_while_chroma_is_down_becomes_ready(tmp_path: Path) -> None:
    """No Chroma at start-up: 503s, then ready as soon as it appears, without a restart."""
    chroma = ChromaProcess(tmp_path / "chroma")
    settings = _settings(tmp_path, chroma)
    try:
        with live_server(settings) as server:
            down = httpx.get(f"{server.url}/readyz", timeout=10)
            search = httpx.get(f"{server.base_url}/search", params={"q": "graph"}, timeout=10)
            chroma.start()
            Library(settings).ingest(make_papers(12))
            _, up = _wait_readyz(server.url, 200, 30)
            ok = httpx.post(f"{server.base_url}/ask", timeout=10,
                            json={"question": "What is known about protein language model?"})
    finally:
        chroma.stop()
    assert down.status_code == 503 and down.json()["problem"] == "store_unavailable"
    assert search.status_code == 503 and search.json()["error"]["code"] == "store_unavailable"
    assert up["papers"] == 12
    assert ok.status_code == 200 and ok.json()["citations"], ok.text


def test_core_raises_store_unavailable_when_chroma_is_gone(tmp_path: Path) -> None:
    """With handles cached from before the kill, every Library call that needs Chroma
    raises StoreUnavailable, never a raw httpx error. (`is_empty()` is left out: with the
    keyword index open it answers without Chroma, by design.)"""
    chroma = ChromaProcess(tmp_path / "chroma").start()
    try:
        lib = Library(_settings(tmp_path, chroma))
        lib.ingest(make_papers(12))
        assert lib.search("protein language model", 3).results
        chroma.kill()
        calls = {"search": lambda: lib.search("protein language model", 3),
                 "count": lib.count, "papers": lib.papers,
                 "get_paper": lambda: lib.get_paper("p1"),
                 "ingest": lambda: lib.ingest(make_papers(13))}
        outcomes: dict[str, object] = {}
        for name, call in calls.items():
            try:
                outcomes[name] = call()
            except Exception as e:
                outcomes[name] = e
    finally:
        chroma.stop()
    assert all(isinstance(e, StoreUnavailable) for e in outcomes.values()), outcomes


def _within(seconds: float, call: Callable[[], object]) -> tuple[bool, float, object]:
    """(finished, seconds taken, result or exception) of `call` run in a thread."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as e:
            outcome.append(e)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    return not worker.is_alive(), time.monotonic() - started, outcome[0] if outcome else None


def test_a_stalled_chroma_fails_fast_instead_of_hanging(tmp_path: Path) -> None:
    """SIGSTOP keeps the port open but nothing answers: with PAPERCHAT_CHROMA_TIMEOUT=2 a
    search, and opening a new Library, fail with StoreUnavailable after ~2 s."""
    chroma = ChromaProcess(tmp_path / "chroma").start()
    try:
        settings = _settings(tmp_path, chroma).with_overrides(chroma_timeout=2.0)
        lib = Library(settings)
        lib.ingest(make_papers(12))
        lib.search("protein language model", 3)
        chroma.pause()
        search = _within(6, lambda: lib.search("protein language model", 3))
        opening = _within(6, lambda: Library(settings).count())
    finally:
        chroma.stop()  # resumes it first, so the stuck request ends
    print(f"stalled Chroma: search failed after {search[1]:.2f} s, "
          f"opening after {opening[1]:.2f} s")
    assert search[0], "a search against a stalled Chroma was still waiting after 6 s"
    assert opening[0], "opening a Library on a stalled Chroma was still waiting after 6 s"
    assert isinstance(search[2], StoreUnavailable), search
    assert isinstance(opening[2], StoreUnavailable), opening


def test_while_chroma_is_down_searches_fail_before_embedding_the_query(tmp_path: Path) -> None:
    """After the first failure the store resolves its collection again on the next call,
    which fails at once: an outage costs no model time per request, and the first request
    after a restart gets a fresh handle."""
    chroma = ChromaProcess(tmp_path / "chroma").start()
    try:
        lib = Library(_settings(tmp_path, chroma))
        lib.ingest(make_papers(12))
        lib.search("protein language model", 3)
        embedded: list[str] = []
        real_embed = lib.embedder.embed_query

        def counting(text: str) -> Any:
            embedded.append(text)
            return real_embed(text)

        lib.embedder.embed_query = counting  # type: ignore[method-assign]
        chroma.kill()
        for i in range(5):
            try:
                lib.search(f"protein language model {i}", 3)
            except StoreUnavailable:
                pass
            else:
                raise AssertionError("a search succeeded with Chroma down")
        assert len(embedded) <= 1, embedded  # only the call that found the server gone
        chroma.start()
        assert lib.search("protein language model", 3).results
    finally:
        chroma.stop()
