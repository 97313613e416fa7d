"""A companion collection (rag/companions.py) follows the chunks through every kind of
write: incremental ingest, --prune, --rebuild (and a rebuild killed mid-swap), a failed
ingest re-run, and another process's reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from rag import indexer
from rag.companions import CompanionStore
from rag.embedders import Embedder
from rag.library import Library
from rag.models import Paper
from rag.settings import Settings
from rag.store import ChromaStore
from tests.conftest import make_papers

SUFFIX = "__titles"


class Titles:
    """One record per paper: its title and a 4-d vector, keyed `<paper_id>#<hash>`."""

    suffix = SUFFIX

    def write(self, store: CompanionStore, papers: Sequence[Paper],
              hashes: dict[str, str], *, embedder: Embedder | None = None) -> None:
        ids = [f"{p.id}#{hashes[p.id]}" for p in papers]
        store.put(ids, embeddings=np.ones((len(papers), 4), dtype=np.float32),
                  documents=[p.title for p in papers],
                  metadatas=[{"paper_id": p.id, "hash": hashes[p.id]} for p in papers])
        for p in papers:  # the paper's older versions
            store.remove(where={"$and": [{"paper_id": p.id}, {"hash": {"$ne": hashes[p.id]}}]})

    def remove(self, store: CompanionStore, paper_ids: Sequence[str]) -> None:
        store.remove(where={"paper_id": {"$in": list(paper_ids)}})

    def missing(self, store: CompanionStore, hashes: dict[str, str]) -> list[str]:
        have = set(store.fetch(ids=[f"{pid}#{h}" for pid, h in hashes.items()],
                               include=[])["ids"])
        return [pid for pid, h in hashes.items() if f"{pid}#{h}" not in have]


def _library(settings: Settings) -> Library:
    return Library(settings, companions=[Titles()])


def _titles(lib: Library) -> dict[str, str]:
    """paper id -> stored title, failing if a paper has two versions."""
    got = lib.companion(SUFFIX).fetch(include=["documents", "metadatas"])
    pids = [m["paper_id"] for m in got["metadatas"]]
    assert len(pids) == len(set(pids)), pids
    return dict(zip(pids, got["documents"], strict=True))


def _expected(papers: Sequence[Paper]) -> dict[str, str]:
    return {p.id: p.title for p in papers}


def _collections(lib: Library) -> set[str]:
    return {c.name for c in lib.client.list_collections()}


def test_incremental_ingest_and_prune_keep_the_companion_in_step(settings: Settings) -> None:
    lib = _library(settings)
    papers = make_papers(10)
    lib.ingest(papers)
    assert _titles(lib) == _expected(papers)

    changed = [p.model_copy(update={"title": p.title + " (revised)"}) if i < 3 else p
               for i, p in enumerate(papers)]
    report = lib.ingest(changed[:8], prune=True)
    assert (report.updated, report.removed) == (3, 2)
    assert _titles(lib) == _expected(changed[:8])
    assert lib.count() == 8


def test_a_rebuild_swaps_the_companion_in_with_the_chunks(settings: Settings) -> None:
    lib = _library(settings)
    lib.ingest(make_papers(6, prefix="old"))
    reader = _library(settings)
    assert _titles(reader) == _expected(make_papers(6, prefix="old"))

    new = make_papers(4, prefix="new")
    assert lib.ingest(new, rebuild=True).papers == 4
    assert _titles(lib) == _expected(new)
    assert _titles(reader) == _expected(new)  # a reader's handle re-resolves the name
    assert _collections(lib) == {"papers", "papers" + SUFFIX}


def test_a_failed_ingest_rerun_completes_the_companion(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = _library(settings)
    base = make_papers(5)
    lib.ingest(base)
    more = make_papers(200, prefix="more")  # several batches
    calls = 0
    real = ChromaStore.upsert

    def failing(self: ChromaStore, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second batch: its companion records are written, chunks not
            raise RuntimeError("killed")
        real(self, *args, **kwargs)

    monkeypatch.setattr(ChromaStore, "upsert", failing)
    with pytest.raises(RuntimeError):
        lib.ingest(base + more)
    monkeypatch.undo()

    lib = _library(settings)
    lib.ingest(base + more)
    assert _titles(lib) == _expected(base + more)
    assert lib.count() == 205


class _Killed(Exception):
    pass


def test_a_rebuild_killed_in_the_companion_swap_is_recovered(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = make_papers(5, prefix="old"), make_papers(3, prefix="new")
    _library(settings).ingest(old)
    real_rename = ChromaStore.rename

    def rename(self: ChromaStore, new_name: str) -> None:
        if self.name == "papers" + SUFFIX + indexer.REBUILD_SUFFIX:
            raise _Killed  # the live companion is parked, the new one not yet renamed
        real_rename(self, new_name)

    monkeypatch.setattr(ChromaStore, "rename", rename)
    with pytest.raises(_Killed):
        _library(settings).ingest(new, rebuild=True)
    monkeypatch.undo()

    lib = _library(settings)  # opening finishes the swap: companion, then chunks
    assert _titles(lib) == _expected(new)
    assert {p.id for p in lib.papers()} == {p.id for p in new}
    assert {h.paper_id for h in lib.search("protein language model", 5, mode="bm25").results
            } <= {p.id for p in new}
    assert lib.ingest(new, rebuild=True).papers == 3
    assert _titles(lib) == _expected(new)
    assert lib.count() == 3
    assert _collections(lib) == {"papers", "papers" + SUFFIX}


def test_a_library_without_the_companion_leaves_it_alone(settings: Settings) -> None:
    """Opening and searching with no companions configured touches no companion data."""
    _library(settings).ingest(make_papers(4))
    plain = Library(settings)
    assert plain.search("protein language model", 2).results
    assert _titles(_library(settings)) == _expected(make_papers(4))


def test_chunks_of_reads_the_chunks_of_the_given_papers(settings: Settings) -> None:
    lib = Library(settings)
    papers = make_papers(6)
    lib.ingest(papers)
    got = list(lib.store.chunks_of([papers[1].id, papers[4].id, "absent"]))
    assert {pid for _, pid, _ in got} == {papers[1].id, papers[4].id}
    every = {cid: (pid, text) for cid, pid, text in lib.store.iter_chunks()}
    assert all(every[cid] == (pid, text) for cid, pid, text in got)
    assert len(got) == sum(1 for pid, _ in every.values() if pid in {papers[1].id, papers[4].id})
