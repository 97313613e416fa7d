"""A collection ingested before its companion existed gets the companion's records from an
ordinary re-ingest of the same papers (rag.companions.backfill): counted in the report,
without the chunks being rewritten or search changing, batch by batch, and an interrupted
backfill (failure mid-batch, kill -9) is completed by the next ingest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from rag.companions import CompanionStore
from rag.embedders import Embedder, make_embedder
from rag.library import Library
from rag.models import Paper
from rag.relevance.sentences import paper_sentences
from rag.relevance.store import SUFFIX, SentenceCompanion, StoredSentences
from rag.settings import Settings
from tests.conftest import make_papers

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ["graph neural network pretraining", "protein language model", "setting 7"]


class Counting:
    """The fake embedder, counting the texts it embeds (and failing on call `fail_on`)."""

    def __init__(self, inner: Embedder, fail_on: int | None = None) -> None:
        self.inner, self.fail_on, self.calls, self.texts = inner, fail_on, 0, 0
        self.name, self.dimension = inner.name, inner.dimension

    def embed_documents(self, texts: list[str]) -> Any:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("injected failure mid-backfill")
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)


def _sentences(settings: Settings, embedder: Embedder | None = None) -> Library:
    """A library with the sentence companion (the default only with MiniLM)."""
    lib = Library(settings, embedder=embedder)
    lib.companions = (SentenceCompanion(lambda: lib.embedder),)
    return lib


def _stored(lib: Library) -> dict[str, tuple[str, list[str]]]:
    """paper id -> (title, sentences in order) of its complete records (title present)."""
    got = lib.companion(SUFFIX).fetch(include=["documents", "metadatas"])
    titles: dict[str, str] = {}
    sents: dict[str, dict[int, str]] = {}
    for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
        if meta["kind"] == "title":
            titles[meta["paper_id"]] = doc
        else:
            sents.setdefault(meta["paper_id"], {})[meta["i"]] = doc
    return {pid: (t, [sents.get(pid, {})[i] for i in sorted(sents.get(pid, {}))])
            for pid, t in titles.items()}


def _expected(papers: Sequence[Paper]) -> dict[str, tuple[str, list[str]]]:
    return {p.id: (p.title, paper_sentences(p.abstract)) for p in papers}


def _search(lib: Library) -> list[list[tuple[str, float]]]:
    return [[(h.paper_id, round(h.score, 6)) for h in lib.search(q, 5).results]
            for q in QUERIES]


def _chunk_ids(lib: Library) -> list[str]:
    return sorted(lib.store.chunk_ids())


def test_reingest_adds_missing_sentence_vectors_without_touching_the_chunks(
        settings: Settings) -> None:
    papers = make_papers(70)
    Library(settings, companions=[]).ingest(papers)  # before sentence vectors existed
    embedder = Counting(make_embedder(settings))
    lib = _sentences(settings, embedder)
    assert _stored(lib) == {}
    before = (_search(lib), _chunk_ids(lib), lib.store.generation())
    seen: list[tuple[int, int]] = []

    report = lib.ingest(papers, progress=lambda done, total: seen.append((done, total)))

    assert (report.added, report.updated, report.unchanged, report.backfilled) == (0, 0, 70, 70)
    assert _stored(lib) == _expected(papers)
    # No chunk re-embedded (only the companion's texts), none rewritten, same generation.
    assert embedder.texts == sum(len(paper_sentences(p.abstract)) + 1 for p in papers)
    assert (_search(lib), _chunk_ids(lib), lib.store.generation()) == before
    assert seen[:3] == [(0, 70), (64, 70), (70, 70)]  # batches of 64

    embedder.texts = 0
    again = lib.ingest(papers)
    assert (again.backfilled, again.unchanged, embedder.texts) == (0, 70, 0)


def test_backfill_and_changes_in_one_ingest(settings: Settings) -> None:
    papers = make_papers(10)
    Library(settings, companions=[]).ingest(papers)
    changed = [p.model_copy(update={"abstract": "A new abstract. Two sentences."})
               if i < 2 else p for i, p in enumerate(papers)] + make_papers(1, prefix="new")
    lib = _sentences(settings)
    report = lib.ingest(changed)
    assert (report.added, report.updated, report.unchanged, report.backfilled) == (1, 2, 8, 8)
    assert _stored(lib) == _expected(changed)


def test_a_backfill_that_fails_mid_batch_is_completed_by_the_next_ingest(
        settings: Settings) -> None:
    papers = make_papers(70)
    Library(settings, companions=[]).ingest(papers)
    before = (_search(Library(settings, companions=[])), _chunk_ids(Library(settings)))
    failing = _sentences(settings, Counting(make_embedder(settings), fail_on=2))
    with pytest.raises(RuntimeError, match="injected"):
        failing.ingest(papers)
    partial = _stored(failing)
    assert partial == _expected(papers[:64])  # the first batch, whole; nothing else

    lib = _sentences(settings)
    report = lib.ingest(papers)
    assert (report.backfilled, report.unchanged) == (6, 70)
    assert _stored(lib) == _expected(papers)
    assert (_search(lib), _chunk_ids(lib)) == before


def test_the_ingests_embedder_embeds_the_companion_texts_too(settings: Settings) -> None:
    """The server's HTTP ingest embeds in a worker process (Library.ingest(embedder=)): the
    sentence vectors, written or backfilled, must come from it, not the in-process model."""
    papers = make_papers(5)
    texts = sum(len(paper_sentences(p.abstract)) + 1 for p in papers)
    Library(settings, companions=[]).ingest(papers[:3])
    own, worker = Counting(make_embedder(settings)), Counting(make_embedder(settings))
    lib = _sentences(settings, own)
    report = lib.ingest(papers, embedder=worker)  # 2 new papers, 3 to backfill
    assert (report.added, report.backfilled) == (2, 3)
    assert own.texts == 0 and worker.texts > texts  # the sentences and the new chunks
    assert _stored(lib) == _expected(papers)


class _Half:
    """A companion store whose title write fails: the paper's sentences are in, its
    completeness marker is not (a kill between the two writes)."""

    def __init__(self, inner: CompanionStore) -> None:
        self.inner = inner

    def put(self, ids: Sequence[str], **kw: Any) -> None:
        if ids and str(ids[0]).endswith("#t"):
            raise OSError("killed before the titles")
        self.inner.put(ids, **kw)

    def remove(self, **kw: Any) -> None:
        self.inner.remove(**kw)

    def fetch(self, **kw: Any) -> dict[str, Any]:
        return self.inner.fetch(**kw)


def test_records_without_their_title_count_as_missing_and_are_not_read(
        settings: Settings) -> None:
    papers = make_papers(3)
    lib = _sentences(settings)
    Library(settings, companions=[]).ingest(papers)
    store = lib.companion(SUFFIX)
    with pytest.raises(OSError):
        SentenceCompanion(lambda: lib.embedder).write(
            _Half(store), papers, {p.id: p.content_hash() for p in papers})
    assert store.fetch(include=[])["ids"]  # sentences written...
    assert _stored(lib) == {}  # ...but no paper complete
    assert lib.ingest(papers).backfilled == 3
    assert _stored(lib) == _expected(papers)


def test_the_stage_reads_stored_vectors_and_embeds_other_versions(settings: Settings) -> None:
    from rag.answer.vectors import SentenceVectors
    from rag.relevance.sentences import EmbeddedSentences

    papers = make_papers(6)
    lib = _sentences(settings)
    lib.ingest(papers)
    hits = lib.search("graph neural network pretraining", 6, mode="zscore").results
    counting = Counting(make_embedder(settings))
    source = StoredSentences(lambda: lib.companion(SUFFIX),
                             EmbeddedSentences(SentenceVectors(counting)))
    found = source.sentences(hits)
    assert counting.texts == 0 and set(found) == {p.id for p in papers}
    assert found[hits[0].paper_id].texts == tuple(paper_sentences(hits[0].abstract or ""))
    # A hit whose text is another version than the records (an ingest writing it now, or
    # records left while the companion was off): embedded at query time, not mismatched.
    other = hits[0].model_copy(update={"abstract": "Changed since. Quite."})
    found = source.sentences([other])
    assert found[other.paper_id].texts == ("Changed since.", "Quite.")
    assert counting.texts == 3  # two sentences and the title


class _Reads(_Half):
    """Counts the reads of a companion store."""

    def __init__(self, inner: CompanionStore) -> None:
        super().__init__(inner)
        self.reads = 0

    def fetch(self, **kw: Any) -> dict[str, Any]:
        self.reads += 1
        return self.inner.fetch(**kw)


def test_stored_vectors_are_kept_in_memory_until_the_paper_changes(settings: Settings) -> None:
    from rag.answer.vectors import SentenceVectors
    from rag.relevance.sentences import EmbeddedSentences

    papers = make_papers(4)
    lib = _sentences(settings)
    lib.ingest(papers)
    reads = _Reads(lib.companion(SUFFIX))
    source = StoredSentences(lambda: reads, EmbeddedSentences(SentenceVectors(lib.embedder)),
                             max_papers=3)
    hits = lib.search("protein language model", 4, mode="zscore").results
    first = source.sentences(hits[:3])
    again = source.sentences(hits[:3])
    assert reads.reads == 1 and all(again[p] is first[p] for p in first)
    source.sentences(hits[3:])  # a fourth paper: the least recently used one is dropped
    source.sentences(hits[:3])
    assert reads.reads == 3
    # The paper changed since (a re-ingest): its kept vectors are not used.
    changed = papers[0].model_copy(update={"abstract": "Rewritten. Entirely."})
    lib.ingest([changed])
    hit = next(h for h in lib.search("Rewritten", 4, mode="zscore").results
               if h.paper_id == changed.id)
    assert source.sentences([hit])[changed.id].texts == ("Rewritten.", "Entirely.")
    assert reads.reads == 4


KILLER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from rag.library import Library
    from rag.relevance.store import SentenceCompanion
    from rag.settings import Settings
    from tests.conftest import make_papers

    lib = Library(Settings(home={home!r}, embed={{"provider": "fake"}}))
    lib.companions = (SentenceCompanion(lambda: lib.embedder),)

    def progress(done, total):
        if done >= 64:  # the first batch is written: die without cleaning up
            os.kill(os.getpid(), signal.SIGKILL)

    lib.ingest(make_papers(70), progress=progress)
""")


@pytest.mark.slow  # a subprocess that imports chromadb (~5 s on the shared machine)
def test_a_backfill_killed_mid_way_is_completed_by_the_next_ingest(
        settings: Settings) -> None:
    papers = make_papers(70)
    Library(settings, companions=[]).ingest(papers)
    before = (_search(Library(settings)), _chunk_ids(Library(settings)))
    code = KILLER.format(root=str(ROOT), home=str(settings.home))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == -9, proc.stderr
    lib = _sentences(settings)
    assert _stored(lib) == _expected(papers[:64])
    report = lib.ingest(papers)
    assert (report.backfilled, report.unchanged) == (6, 70)
    assert _stored(lib) == _expected(papers)
    assert (_search(lib), _chunk_ids(lib)) == before


@pytest.mark.slow  # real MiniLM (the calibrated stage needs it): two small ingests
def test_without_stored_sentences_the_stage_embeds_at_query_time_with_the_same_result(
        tmp_path: Path) -> None:
    from rag.companions import make_companions
    from tests.rag.conftest import ANSWER_PAPERS

    def library(name: str, store: bool) -> Library:
        return Library(Settings(home=tmp_path / name, embed={"provider": "minilm"},  # type: ignore[arg-type]
                                relevance={"store_sentences": store}))  # type: ignore[arg-type]

    stored, skipped = library("stored", True), library("skipped", False)
    assert make_companions(skipped.settings, lambda: skipped.embedder) == []
    stored.ingest(ANSWER_PAPERS)
    skipped.ingest(ANSWER_PAPERS)
    assert skipped.companion(SUFFIX).fetch(include=[])["ids"] == []
    assert len(_stored(stored)) == len(ANSWER_PAPERS)
    question = "Which paper reconstructs masked image patches?"
    a, b = (lib.search(question, 5, mode="rerank").results for lib in (stored, skipped))
    assert [h.paper_id for h in a] == [h.paper_id for h in b]
    assert [h.relevance for h in a] == pytest.approx([h.relevance for h in b], abs=1e-4)
    # Switching it on later: the next ingest of the same papers backfills them.
    on = library("skipped", True)
    assert on.ingest(ANSWER_PAPERS).backfilled == len(ANSWER_PAPERS)
    assert _stored(on) == _expected(ANSWER_PAPERS)
