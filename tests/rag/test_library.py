"""Ingest and search through Library with the fake embedder."""

from __future__ import annotations

import pytest

from rag.embedders.fake import HashingEmbedder
from rag.errors import EmbedderMismatch, InputError, NotFoundError
from rag.library import Library, mean_vector
from rag.models import Paper
from rag.settings import Settings
from tests.conftest import make_papers


def test_first_ingest_adds_everything_and_search_finds_the_topic(settings: Settings) -> None:
    lib = Library(settings)
    report = lib.ingest(make_papers(12))
    assert (report.papers, report.added, report.updated, report.unchanged) == (12, 12, 0, 0)
    assert report.chunks >= 12
    hits = lib.search("protein language model", k=3).results
    assert hits and all("protein" in h.title for h in hits[:2])
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_second_ingest_is_a_no_op_and_embeds_nothing(settings: Settings) -> None:
    embedder = HashingEmbedder()
    lib = Library(settings, embedder=embedder)
    papers = make_papers(12)
    lib.ingest(papers)
    embedded = embedder.texts_embedded
    again = Library(settings, embedder=embedder).ingest(papers)
    assert again.unchanged == again.papers == 12
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert embedder.texts_embedded == embedded


def test_changed_abstract_is_re_embedded_and_old_text_is_gone(settings: Settings) -> None:
    embedder = HashingEmbedder()
    lib = Library(settings, embedder=embedder)
    papers = make_papers(6)
    lib.ingest(papers)
    before = embedder.texts_embedded
    changed = papers[2].model_copy(update={"abstract": "A completely new zebrafish abstract."})
    report = lib.ingest([*papers[:2], changed, *papers[3:]])
    assert (report.updated, report.unchanged, report.added) == (1, 5, 0)
    assert embedder.texts_embedded - before == 1
    assert lib.get_paper(papers[2].id).abstract.startswith("A completely new zebrafish")
    assert lib.search("zebrafish", k=1).results[0].paper_id == papers[2].id
    assert report.chunks == lib.store.count_chunks() == 6


def test_prune_removes_papers_missing_from_the_source(settings: Settings) -> None:
    lib = Library(settings)
    papers = make_papers(8)
    lib.ingest(papers)
    kept = lib.ingest(papers[:5])
    assert kept.papers == 8 and kept.removed == 0  # without --prune nothing is removed
    pruned = lib.ingest(papers[:5], prune=True)
    assert (pruned.removed, pruned.papers) == (3, 5)
    assert {p.id for p in lib.papers()} == {p.id for p in papers[:5]}
    with pytest.raises(NotFoundError):
        lib.get_paper(papers[7].id)
    assert papers[7].id not in {h.paper_id for h in lib.search("paper 7", k=10).results}


def test_rebuild_replaces_the_collection(settings: Settings) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(8))
    report = lib.ingest(make_papers(3, prefix="q"), rebuild=True)
    assert (report.papers, report.added) == (3, 3)
    assert {p.id for p in Library(settings).papers()} == {"q0", "q1", "q2"}


def test_other_embedder_is_refused_with_a_rebuild_hint(settings: Settings) -> None:
    Library(settings).ingest(make_papers(4))
    other = settings.with_overrides(embed__dimensions=64)
    with pytest.raises(EmbedderMismatch, match="--rebuild"):
        Library(other).search("graph")
    with pytest.raises(EmbedderMismatch):
        Library(other).ingest(make_papers(5))
    assert Library(settings).count() == 4  # refused before writing anything
    assert Library(other).ingest(make_papers(5), rebuild=True).papers == 5


def test_modes_and_input_validation(library: Library) -> None:
    for mode in ("default", "bm25", "dense", "rrf", "zscore"):
        hits = library.search("speech recognition adapters", k=4, mode=mode).results
        assert hits and "speech" in hits[0].title, mode
        assert len({h.paper_id for h in hits}) == len(hits)
    with pytest.raises(InputError):
        library.search("   ")
    with pytest.raises(InputError):
        library.search("x", mode="nonsense")


def test_keyword_index_resyncs_after_an_interrupted_write(settings: Settings) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(6))
    # Simulate a killed ingest: Chroma got a new paper and the marker, the BM25 files did not.
    extra = Paper(id="x1", title="Axolotl regeneration", abstract="Axolotl limbs regrow.")
    store = lib.store
    store.begin_write(lib.embedder.name, lib.embedder.dimension, "token")
    chunks = __import__("rag.chunking", fromlist=["Chunker"]).Chunker(settings.chunk).chunk(extra)
    store.upsert([extra], chunks, lib.embedder.embed_documents([c.text for c in chunks]),
                 {"x1": extra.content_hash()})
    fresh = Library(settings)
    assert fresh.search("axolotl", k=1, mode="bm25").results[0].paper_id == "x1"
    report = fresh.ingest([*make_papers(6), extra])
    assert report.unchanged == 7 and not fresh.store.write_in_progress


def test_empty_collection_search_returns_nothing(settings: Settings) -> None:
    lib = Library(settings)
    assert lib.is_empty() and lib.count() == 0
    assert lib.search("anything").results == []


def test_mean_vector_is_the_mean_chunk_vector_and_follows_writes(library: Library) -> None:
    """What the question model compares a question with: the mean of the stored chunk
    vectors, read once per write generation."""
    import numpy as np

    stored = np.array(library.store._call(
        lambda col: col.get(include=["embeddings"])["embeddings"], None))
    mean = library.mean_vector()
    assert mean is not None and np.allclose(mean, stored.mean(axis=0))
    assert library.mean_vector() is mean  # cached for this generation
    # A sample spread through the collection comes close to the whole's mean.
    sampled = mean_vector(library.store, limit=len(stored) // 2)
    assert sampled is not None and float(np.linalg.norm(sampled - mean)) < 0.5 * float(
        np.linalg.norm(mean))
    library.ingest([Paper(id="new", title="Sea ice", abstract="Arctic sea ice thins " * 20)])
    after = library.mean_vector()
    assert after is not None and not np.allclose(after, mean)
