"""A long-lived Library (`paperchat serve`) sees ingests done by another process.

Two Library objects on one data dir stand for two processes: each has its own keyword
index in memory, which is what goes stale (Chroma itself is shared either way).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag import library as library_module
from rag.library import Library
from rag.models import Paper
from rag.settings import Settings
from tests.conftest import make_papers
from tests.utils.chroma_server import chroma_server

AXOLOTL = [Paper(id=f"axo{i}", title=f"Axolotl limb regeneration {i}",
                 abstract=f"Axolotl limbs regrow after amputation, study {i}.")
           for i in range(3)]


def _bm25_ids(lib: Library, query: str) -> set[str]:
    return {h.paper_id for h in lib.search(query, 5, mode="bm25").results}


def _sees_the_other_ingest(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    server = Library(settings)
    server.ingest(make_papers(12))
    assert _bm25_ids(server, "protein language model")

    monkeypatch.setattr(library_module, "FRESHNESS_S", 3600.0)
    Library(settings).ingest(AXOLOTL)  # `paperchat ingest` in another process
    assert not _bm25_ids(server, "axolotl")  # not yet checked: the old index answers
    assert server.count() == 15  # Chroma reads are fresh regardless

    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.2)
    time.sleep(0.25)
    assert _bm25_ids(server, "axolotl") == {p.id for p in AXOLOTL}
    assert set(server.keyword.chunk_ids()) == set(server.store.chunk_ids())


def test_an_ingest_by_another_process_reaches_the_keyword_index(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _sees_the_other_ingest(settings, monkeypatch)


def test_the_same_with_a_chroma_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Server mode keeps the keyword index in memory only: it is synced, not reloaded."""
    with chroma_server(tmp_path / "chroma") as url:
        settings = Settings(home=tmp_path / "home", chroma_url=url,  # type: ignore[arg-type]
                            embed={"provider": "fake"})
        _sees_the_other_ingest(settings, monkeypatch)


def test_own_ingests_and_quiet_periods_do_not_reopen_the_index(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(12))
    lib.search("protein language model", 3)
    opened: list[Library] = []
    real = Library._open_keyword

    def spy(self: Library, *args: object) -> object:
        if self is lib:
            opened.append(self)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Library, "_open_keyword", spy)
    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.0)  # check on every search
    lib.ingest(AXOLOTL)
    assert _bm25_ids(lib, "axolotl") == {p.id for p in AXOLOTL}
    for _ in range(5):
        lib.search("protein language model", 3)
    assert opened == []
    Library(settings).ingest(make_papers(2, prefix="other"))
    lib.search("protein language model", 3)
    assert opened == [lib]  # exactly one re-open for the other's write


def test_the_check_runs_at_most_once_per_interval(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(12))
    reads: list[None] = []
    store = lib.store
    real = type(store).generation

    def counting(self: object) -> str | None:
        reads.append(None)
        return real(self)  # type: ignore[arg-type]

    monkeypatch.setattr(type(store), "generation", counting)
    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.3)
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        lib.search("protein language model", 3)
    assert 1 <= len(reads) <= 4, len(reads)
