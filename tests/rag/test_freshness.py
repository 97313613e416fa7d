"""A long-lived Library (`paperchat serve`) sees what another process ingested: counts at
once, keyword and dense search within about a second (FRESHNESS_S plus a background
catch-up), while searches keep being answered meanwhile.

Most tests use two Library objects on one data dir; `test_another_process_...` runs a
real second process, which is what embedded Chroma's per-process vector index needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag import library as library_module
from rag.library import Library
from rag.models import Paper
from rag.settings import Settings
from rag.store import ChromaStore
from tests.conftest import make_papers
from tests.utils.chroma_server import chroma_server

ROOT = Path(__file__).resolve().parents[2]
AXOLOTL = [Paper(id=f"axo{i}", title=f"Axolotl limb regeneration {i}",
                 abstract=f"Axolotl limbs regrow after amputation, study {i}.")
           for i in range(3)]
AXO_IDS = {p.id for p in AXOLOTL}


def _ids(lib: Library, query: str, mode: str) -> set[str]:
    return {h.paper_id for h in lib.search(query, 5, mode=mode).results}


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll `check` (a search) until it holds; the catch-up runs in the background."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _sees_the_other_ingest(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.2)
    server = Library(settings)
    server.ingest(make_papers(12))
    assert _ids(server, "protein language model", "bm25")

    Library(settings).ingest(AXOLOTL)  # `paperchat ingest` in another process
    assert server.count() == 15  # Chroma reads are fresh regardless
    for mode in ("bm25", "dense"):
        assert _eventually(lambda m=mode: _ids(server, "axolotl limb", m) >= AXO_IDS), mode
    assert set(server.keyword.chunk_ids()) == set(server.store.chunk_ids())


def test_an_ingest_by_another_library_reaches_the_keyword_index(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _sees_the_other_ingest(settings, monkeypatch)


@pytest.mark.slow
def test_the_same_with_a_chroma_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Server mode keeps the keyword index in memory: it is synced from Chroma."""
    with chroma_server(tmp_path / "chroma") as url:
        settings = Settings(home=tmp_path / "home", chroma_url=url,  # type: ignore[arg-type]
                            embed={"provider": "fake"})
        _sees_the_other_ingest(settings, monkeypatch)


CHILD = textwrap.dedent("""
    import sys
    from rag.library import Library
    from rag.models import Paper
    from rag.settings import Settings

    settings = Settings(home=sys.argv[1], embed={"provider": "fake"})
    Library(settings).ingest([Paper(id=f"axo{i}", title=f"Axolotl limb regeneration {i}",
                                    abstract=f"Axolotl limbs regrow after amputation, study {i}.")
                              for i in range(3)])
""")


@pytest.mark.slow
def test_another_process_ingest_reaches_dense_and_keyword_search(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedded Chroma keeps each process's vector index in memory: without a fresh client
    the long-lived process never found the new papers by dense search."""
    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.2)
    server = Library(settings)
    server.ingest(make_papers(12))
    assert not AXO_IDS & _ids(server, "axolotl limb regeneration", "dense")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", CHILD, str(settings.home)], cwd=ROOT, env=env,
                   check=True, timeout=300)
    assert server.count() == 15
    for mode in ("dense", "bm25", "default"):
        assert _eventually(lambda m=mode: _ids(
            server, "axolotl limb regeneration", m) >= AXO_IDS), mode


def test_own_ingests_and_quiet_periods_do_not_catch_up(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(12))
    lib.search("protein language model", 3)
    caught_up: list[bool] = []
    real = Library._catch_up

    def spy(self: Library) -> bool:
        done = real(self)
        if self is lib and done:
            caught_up.append(done)
        return done

    monkeypatch.setattr(Library, "_catch_up", spy)
    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.0)  # check on every search
    lib.ingest(AXOLOTL)
    assert _ids(lib, "axolotl", "bm25") == AXO_IDS  # its own write: visible at once
    for _ in range(5):
        lib.search("protein language model", 3)
    assert caught_up == []
    Library(settings).ingest(make_papers(2, prefix="other"))
    assert _eventually(lambda: bool(_ids(lib, "protein language model", "bm25") and caught_up))
    for _ in range(5):
        lib.search("protein language model", 3)
    assert caught_up == [True]  # exactly one catch-up for the other's write


def test_the_check_runs_at_most_once_per_interval(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(12))
    reads: list[None] = []
    real = ChromaStore.generation

    def counting(self: ChromaStore) -> str | None:
        reads.append(None)
        return real(self)

    monkeypatch.setattr(ChromaStore, "generation", counting)
    monkeypatch.setattr(library_module, "FRESHNESS_S", 0.3)
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        lib.search("protein language model", 3)
    assert 1 <= len(reads) <= 4, len(reads)
