"""The same ingest + search against a real `chroma run` server (scale path)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag import library as library_module
from rag.library import Library
from rag.settings import Settings
from tests.conftest import make_papers
from tests.utils.chroma_server import chroma_server


def test_ingest_and_search_against_chroma_server(tmp_path: Path) -> None:
    with chroma_server(tmp_path / "chroma-data") as url:
        settings = Settings(home=tmp_path / "home", chroma_url=url,  # type: ignore[arg-type]
                            embed={"provider": "fake"})
        first = Library(settings).ingest(make_papers(20))
        assert (first.papers, first.added) == (20, 20)
        again = Library(settings).ingest(make_papers(20))
        assert again.unchanged == 20 and again.added == 0

        # A fresh process in server mode rebuilds its keyword index from what Chroma holds.
        fresh = Library(settings)
        hits = fresh.search("reinforcement learning robots", k=3, mode="bm25").results
        assert hits and "reinforcement" in hits[0].title
        assert len(fresh.keyword) == fresh.store.count_chunks()
        assert fresh.search("time series forecasting", k=3).results[0].title.endswith(
            "time series forecasting")
        # Nothing was written to the local data dir: Chroma is the only store.
        assert not (tmp_path / "home" / "chroma").exists()
        assert not (tmp_path / "home" / "keyword").exists()


def test_a_server_replica_follows_another_process_rebuild(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process keeps its own keyword index in memory, synced from Chroma: a rebuild
    by another process (every chunk new) reaches it while it keeps answering."""
    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.2)
    with chroma_server(tmp_path / "chroma-data") as url:
        settings = Settings(home=tmp_path / "home", chroma_url=url,  # type: ignore[arg-type]
                            embed={"provider": "fake"})
        replica = Library(settings)
        replica.ingest(make_papers(20))
        assert replica.search("protein language model", 3, mode="bm25").results
        Library(settings).ingest(make_papers(8, prefix="q"), rebuild=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ids = {h.paper_id for h in replica.search("protein language model", 5,
                                                      mode="bm25").results}
            if ids and all(i.startswith("q") for i in ids):
                break
            time.sleep(0.05)
        assert ids and all(i.startswith("q") for i in ids), ids
        assert sorted(replica.keyword.chunk_ids()) == sorted(replica.store.chunk_ids())
