"""The same ingest + search against a real `chroma run` server (scale path)."""

from __future__ import annotations

from pathlib import Path

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
