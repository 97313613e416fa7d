"""Costs that must follow the work, not the collection size (issue 7, scale).

Each test spies on the reads and the tokenising an operation does on a small collection;
a whole-collection read or re-tokenise where the fix removed one makes it fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from rag.chunking import Chunker
from rag.keyword import KeywordWriter
from rag.library import Library
from rag.models import Paper
from rag.settings import Settings
from rag.store import ChromaStore
from tests.conftest import make_papers


class _Spy:
    """Wraps a Chroma collection and records how it was read."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gets: list[dict[str, Any]] = []
        self.deletes: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get(self, **kwargs: Any) -> Any:
        self.gets.append(kwargs)
        return self.inner.get(**kwargs)

    def delete(self, **kwargs: Any) -> Any:
        self.deletes.append(kwargs)
        return self.inner.delete(**kwargs)

    def scans(self) -> list[dict[str, Any]]:
        """Reads not addressed by id: metadata filters or paging through everything."""
        return [g for g in self.gets if "ids" not in g]


@pytest.fixture
def tokenised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every chunk text the keyword index indexes."""
    seen: list[str] = []
    real = KeywordWriter.add

    def counting(self: KeywordWriter, chunks):  # type: ignore[no-untyped-def]
        chunks = list(chunks)
        seen.extend(text for _, _, text in chunks)
        return real(self, chunks)

    monkeypatch.setattr(KeywordWriter, "add", counting)
    return seen


def _spy(lib: Library) -> _Spy:
    spy = _Spy(lib.store._collection())
    lib.store._col = spy
    lib.store._refresh = lambda: spy  # type: ignore[method-assign]
    return spy


def _n_chunks(settings: Settings, papers: list[Paper]) -> int:
    return len(Chunker(settings.chunk).chunk_many(papers))


def _keyword_matches_chroma(lib: Library) -> None:
    fresh = Library(lib.settings)
    assert set(fresh.keyword.chunk_ids()) == set(fresh.store.chunk_ids())
    assert set(lib.keyword.chunk_ids()) == set(fresh.store.chunk_ids())


def test_adding_papers_tokenises_and_reads_only_the_new_ones(
        settings: Settings, tokenised: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(120))
    tokenised.clear()
    spy = _spy(lib)
    monkeypatch.setattr(ChromaStore, "iter_chunks", lambda self: pytest.fail("full read"))
    new = make_papers(5, prefix="new")
    report = lib.ingest(new)
    assert (report.added, report.papers) == (5, 125)
    assert len(tokenised) == _n_chunks(settings, new)  # not the 120 papers already there
    # Stored versions were looked up for the 5 papers only; nothing paged through it all.
    assert all(g.get("where") == {"paper_id": {"$in": [p.id for p in new]}}
               for g in spy.scans()), spy.scans()
    assert lib.search("paper 3 on graph", k=3, mode="bm25").results
    _keyword_matches_chroma(lib)


def test_changed_papers_replace_their_old_chunks_by_id(settings: Settings,
                                                       tokenised: list[str]) -> None:
    lib = Library(settings)
    papers = make_papers(40)
    lib.ingest(papers)
    changed = [p.model_copy(update={"abstract": f"A zebrafish study number {i}."})
               for i, p in enumerate(papers[:3])]
    tokenised.clear()
    spy = _spy(lib)
    report = lib.ingest(changed)
    assert (report.updated, report.papers) == (3, 40)
    assert len(tokenised) == 3
    assert spy.deletes and all("ids" in d for d in spy.deletes)  # no metadata-filter delete
    assert lib.store.count_chunks() == 40
    hits = lib.search("zebrafish study", k=3, mode="bm25").results
    assert {h.paper_id for h in hits} == {p.id for p in changed}
    assert lib.get_paper(papers[0].id).abstract.startswith("A zebrafish")
    _keyword_matches_chroma(lib)


def test_prune_still_sees_the_whole_collection(settings: Settings) -> None:
    lib = Library(settings)
    papers = make_papers(30)
    lib.ingest(papers)
    report = lib.ingest(papers[:10], prune=True)
    assert (report.removed, report.papers) == (20, 10)
    assert lib.count() == 10 and lib.store.count_chunks() == 10
    _keyword_matches_chroma(lib)


def test_count_uses_the_recorded_count_until_something_else_writes(
        settings: Settings) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(25))
    spy = _spy(lib)
    assert lib.count() == 25
    assert spy.gets == []  # no scan for a count
    # A write that records no count (another tool, an older version): counted instead.
    extra = Paper(id="x1", title="Axolotl regeneration", abstract="Axolotl limbs regrow.")
    chunks = Chunker(settings.chunk).chunk(extra)
    lib.store.upsert([extra], chunks, lib.embedder.embed_documents([c.text for c in chunks]),
                     {"x1": extra.content_hash()})
    assert Library(settings).count() == 26


def test_search_reads_papers_by_id_not_by_filter(settings: Settings) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(30))
    lib.search("warm up")
    spy = _spy(lib)
    for mode in ("default", "bm25", "dense"):
        assert lib.search("protein language model", k=5, mode=mode).results
    assert spy.gets and spy.scans() == []


def test_reopen_after_an_interrupted_write_reads_only_the_difference(
        settings: Settings, tokenised: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(30))
    extra = Paper(id="x1", title="Axolotl regeneration", abstract="Axolotl limbs regrow.")
    store = lib.store
    store.begin_write(lib.embedder.name, lib.embedder.dimension, "token")
    chunks = Chunker(settings.chunk).chunk(extra)
    store.upsert([extra], chunks, lib.embedder.embed_documents([c.text for c in chunks]),
                 {"x1": extra.content_hash()})
    tokenised.clear()
    monkeypatch.setattr(ChromaStore, "iter_chunks", lambda self: pytest.fail("full read"))
    fresh = Library(settings)
    assert fresh.search("axolotl", k=1, mode="bm25").results[0].paper_id == "x1"
    assert len(tokenised) == len(chunks)  # only the chunk Chroma has and the index lacked
    report = fresh.ingest([*make_papers(30), extra])
    assert report.unchanged == 31 and report.papers == 31
    assert not fresh.store.write_in_progress and fresh.count() == 31


def test_an_old_format_keyword_dir_is_rebuilt(settings: Settings) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(10))
    directory = settings.home / "keyword" / settings.collection
    import shutil

    shutil.rmtree(directory)  # what the hand-built segment index left behind
    (directory / "s-0123").mkdir(parents=True)
    (directory / "manifest.json").write_text('{"format": 2, "segments": []}')
    fresh = Library(settings)
    assert fresh.search("time series forecasting", k=1, mode="bm25").results
    assert not (directory / "manifest.json").exists() and (directory / "meta.json").exists()
    assert sorted(fresh.keyword.chunk_ids()) == sorted(fresh.store.chunk_ids())


def test_mixed_versions_left_by_a_crash_are_cleaned_up(settings: Settings) -> None:
    lib = Library(settings)
    papers = make_papers(8)
    lib.ingest(papers)
    # A crash between writing a new version and deleting the old one: both are stored.
    new = papers[1].model_copy(update={"abstract": "Completely rewritten about otters."})
    store = lib.store
    store.begin_write(lib.embedder.name, lib.embedder.dimension, "token")
    chunks = Chunker(settings.chunk).chunk(new)
    store.upsert([new], chunks, lib.embedder.embed_documents([c.text for c in chunks]),
                 {new.id: new.content_hash()})
    assert store.count_chunks() == 9
    fresh = Library(settings)
    report = fresh.ingest([papers[0], new, *papers[2:]])
    assert report.updated == 1 and report.papers == 8
    assert sorted(fresh.store.chunk_ids()) == sorted(
        f"{p.id}#{p.content_hash()}#0" for p in [papers[0], new, *papers[2:]])
    _keyword_matches_chroma(fresh)


def test_reingesting_everything_lists_ids_instead_of_reading_metadata(
        settings: Settings) -> None:
    lib = Library(settings)
    papers = make_papers(30)
    lib.ingest(papers)
    assert lib.store.committed_paper_states() == lib.store.paper_states()
    spy = _spy(lib)
    report = lib.ingest(papers, prune=True)
    assert (report.unchanged, report.papers) == (30, 30)
    assert spy.gets and all(g.get("include") == [] for g in spy.gets), spy.gets


def test_searches_do_not_count_the_collection(settings: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Library(settings)
    assert lib.is_empty() and lib.search("anything").results == []
    lib.ingest(make_papers(20))
    lib.search("warm up")
    calls = []
    real = ChromaStore.count_chunks
    monkeypatch.setattr(ChromaStore, "count_chunks",
                        lambda self: calls.append(1) or real(self))  # type: ignore[func-returns-value]
    for mode in ("default", "bm25", "dense"):
        assert lib.search("protein language model", k=3, mode=mode).results
    assert not lib.is_empty()
    assert calls == []  # Chroma's count() grows with the collection: not once per query
