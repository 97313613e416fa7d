"""`ingest --rebuild` swaps the new collection in while others read (rag/indexer.py).

Two `Library` objects on one data dir stand for two processes: they share the keyword
index directory and the Chroma data; once the reader notices the writer's first rebuild it
reads through a Chroma client of its own, as a second process would.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rag import indexer
from rag import library as library_module
from rag.library import Library
from rag.models import SearchResponse
from rag.settings import Settings
from rag.store import ChromaStore
from tests.conftest import make_papers

ROOT = Path(__file__).resolve().parents[2]


def test_searches_do_not_fail_while_another_library_rebuilds(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    papers = make_papers(30)
    writer = Library(settings)
    writer.ingest(papers)
    reader = Library(settings)
    assert reader.search("protein language model", 3).results

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
        for mode in itertools.cycle(("default", "bm25", "dense")):
            if done.is_set():
                return
            try:
                responses.append(reader.search("protein language model", 3, mode=mode))
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
    assert {c.name for c in writer.client.list_collections()} == {"papers"}


def test_a_collection_dropped_under_a_reader_reads_as_empty(settings: Settings) -> None:
    """The cached handle's collection is gone and none took its name: no raw NotFoundError."""
    reader = Library(settings)
    reader.ingest(make_papers(6))
    assert reader.count() == 6
    reader.open_store("papers").drop()
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
    # The side collection is marked complete before the swap starts: from then on a kill
    # anywhere in the swap is finished by the next open (the old one is not served again).
    expected = new
    ids = {p.id for p in expected}
    assert lib.count() == len(expected)
    assert {p.id for p in lib.papers()} == ids
    for mode in ("bm25", "dense"):
        hits = lib.search("protein language model", 5, mode=mode).results
        assert hits and {h.paper_id for h in hits} <= ids, mode
    assert set(lib.keyword.chunk_ids()) == set(lib.store.chunk_ids())
    names = {c.name for c in lib.client.list_collections()}
    assert "papers__old" not in names and "papers" in names
    # A later rebuild works from whatever was left.
    assert lib.ingest(new, rebuild=True).papers == 11
    assert {c.name for c in lib.client.list_collections()} == {"papers"}


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
    names = {c.name for c in lib.client.list_collections()}
    assert names == {"papers"}, names


REBUILDER = textwrap.dedent("""
    import sys
    from rag.library import Library
    from rag.settings import Settings
    from tests.conftest import make_papers

    settings = Settings(home=sys.argv[1], embed={"provider": "fake"})
    for i in range(3):
        Library(settings).ingest(make_papers(30), rebuild=True)
        print("rebuilt", i, flush=True)
""")


@pytest.mark.slow
def test_searches_do_not_fail_while_another_process_rebuilds(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real thing: a second process (its own Chroma client and tantivy writer) runs
    `ingest --rebuild` three times while this one searches in every mode."""
    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.2)
    papers = make_papers(30)
    reader = Library(settings)
    reader.ingest(papers)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", REBUILDER, str(settings.home)], cwd=ROOT,
                             env=env, stdout=subprocess.PIPE, text=True)
    ids = {p.id for p in papers}
    searches, errors = 0, []
    try:
        while child.poll() is None:
            for mode in ("default", "bm25", "dense"):
                try:
                    hits = reader.search("protein language model", 3, mode=mode).results
                    assert hits and {h.paper_id for h in hits} <= ids, (mode, hits)
                    searches += 1
                except Exception as e:  # recorded, the loop goes on
                    errors.append(e)
    finally:
        out, _ = child.communicate(timeout=300)
    assert child.returncode == 0 and out.count("rebuilt") == 3
    assert not errors, errors[:3]
    assert searches > 30
    assert sorted(reader.keyword.chunk_ids()) == sorted(reader.store.chunk_ids())
