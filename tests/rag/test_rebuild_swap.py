"""`ingest --rebuild` swaps the new collection in while others read (rag/indexer.py).

Two `Library` objects on one data dir share one Chroma system: chromadb caches one per
persist path in a process, so this is the same store a second process would open, with
the same collections and ids (only the keyword index is per Library).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest

from rag import indexer
from rag.library import Library
from rag.models import SearchResponse
from rag.settings import Settings
from rag.store import ChromaStore
from tests.conftest import make_papers


def test_searches_do_not_fail_while_another_library_rebuilds(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    papers = make_papers(30)
    writer = Library(settings)
    writer.ingest(papers)
    reader = Library(settings)
    assert reader.search("protein language model", 3).results
    assert reader._client._system is writer._client._system  # one store, as said above

    responses: list[SearchResponse] = []
    errors: list[BaseException] = []
    done = threading.Event()
    # Each step of the swap is followed by a pause (a slow server), so the reader searches
    # between every two steps; `seen` records how far it had got at each step.
    seen: list[int] = []

    def paced(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            seen.append(len(responses) + len(errors))
            time.sleep(0.03)
            return out
        return call

    for name in ("rename", "drop"):
        monkeypatch.setattr(ChromaStore, name, paced(getattr(ChromaStore, name)))

    def read() -> None:
        while not done.is_set():
            try:
                responses.append(reader.search("protein language model", 3))
            except Exception as e:
                errors.append(e)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for _ in range(5):
            assert writer.ingest(papers, rebuild=True).papers == 30
    finally:
        done.set()
        thread.join(timeout=30)
    assert not errors, errors[:3]
    assert sum(b > a for a, b in itertools.pairwise(seen)) >= len(seen) * 0.8, seen
    assert all(r.results and r.results[0].paper_id in {p.id for p in papers}
               for r in responses)
    assert {c.name for c in writer._client.list_collections()} == {"papers"}


def test_a_collection_dropped_under_a_reader_reads_as_empty(settings: Settings) -> None:
    """The cached handle's collection is gone and none took its name: no raw NotFoundError."""
    reader = Library(settings)
    reader.ingest(make_papers(6))
    assert reader.count() == 6
    ChromaStore(reader._client, "papers").drop()
    assert reader.store.query(reader.embedder.embed_query("protein"), 3) == []
    assert reader.count() == 0
    assert reader.papers() == []


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


SWAP_CALLS = 6  # _swap_in: flag, drop leftover, park old, rename new, drop old, clear flag


@pytest.mark.parametrize("kill_before", range(1, SWAP_CALLS + 2))
def test_a_rebuild_killed_at_each_step_of_the_swap_is_recovered(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, kill_before: int) -> None:
    old, new = make_papers(8, prefix="old"), make_papers(11, prefix="new")
    Library(settings).ingest(old)

    calls = 0
    in_swap = False

    def counted(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            if in_swap:
                calls += 1
                if calls == kill_before:
                    raise _Killed
            return real(*args, **kwargs)
        return call

    def swap(*args: Any) -> None:
        nonlocal in_swap
        in_swap = True
        real_swap(*args)
        in_swap = False
        if kill_before > SWAP_CALLS:
            raise _Killed  # after the swap, before the keyword index and end_write

    real_swap = indexer._swap_in
    for name in ("rename", "drop", "_set_metadata"):
        monkeypatch.setattr(ChromaStore, name, counted(getattr(ChromaStore, name)))
    monkeypatch.setattr(indexer, "_swap_in", swap)
    with pytest.raises(_Killed):
        Library(settings).ingest(new, rebuild=True)
    assert calls == min(kill_before, SWAP_CALLS)
    monkeypatch.undo()

    lib = Library(settings)
    expected = old if kill_before <= 3 else new  # the new one is served once the old is parked
    ids = {p.id for p in expected}
    assert lib.count() == len(expected)
    assert {p.id for p in lib.papers()} == ids
    for mode in ("bm25", "dense"):
        hits = lib.search("protein language model", 5, mode=mode).results
        assert hits and {h.paper_id for h in hits} <= ids, mode
    assert set(lib.keyword.chunk_ids()) == set(lib.store.chunk_ids())
    names = {c.name for c in lib._client.list_collections()}
    assert "papers__old" not in names and "papers" in names
    # A later rebuild works from whatever was left.
    assert lib.ingest(new, rebuild=True).papers == 11
    assert {c.name for c in lib._client.list_collections()} == {"papers"}


def test_a_library_opened_between_the_two_renames_does_not_fail_the_rebuild(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The opener takes the moment for a killed swap and finishes it; the rebuild, whose
    collection then already has the name, completes instead of failing on its own rename."""
    old, new = make_papers(8, prefix="old"), make_papers(11, prefix="new")
    Library(settings).ingest(old)
    real_rename = ChromaStore.rename
    opened: list[Library] = []

    def rename(self: ChromaStore, new_name: str) -> None:
        real_rename(self, new_name)
        if new_name.endswith("__old") and not opened:  # between the two renames
            opened.append(Library(settings))
            assert opened[0].count() == len(new)  # it finished the swap on opening

    monkeypatch.setattr(ChromaStore, "rename", rename)
    report = Library(settings).ingest(new, rebuild=True)
    monkeypatch.undo()

    assert opened and report.papers == len(new)
    lib = Library(settings)
    assert {p.id for p in lib.papers()} == {p.id for p in new}
    assert not lib.store.write_in_progress
    names = {c.name for c in lib._client.list_collections()}
    assert names == {"papers"}, names
