"""The segmented BM25 index: same scores as bm25s, incremental updates equal a rebuild."""

from __future__ import annotations

import random
from pathlib import Path

import bm25s
import numpy as np
import pytest
import Stemmer
from hypothesis import given
from hypothesis import strategies as st

from rag import keyword as kw
from rag.chunking import Chunker
from rag.keyword import KeywordIndex, query_terms
from rag.settings import Settings
from tests.conftest import bundled_papers, make_papers

Triple = tuple[str, str, str]

QUERIES = ["graph neural network pretraining", "speech recognition from raw audio",
           "masked autoencoders vision transformer", "protein protein language model",
           "the of and", "zebrafish axolotl", "contrastive learning molecules",
           "Dice score brachytherapy segmentation"]


@pytest.fixture(scope="module")
def triples(tmp_path_factory: pytest.TempPathFactory) -> list[Triple]:
    """Chunks of the bundled collection as (chunk id, paper id, text)."""
    home = tmp_path_factory.mktemp("kw")
    chunks = Chunker(Settings(home=home).chunk).chunk_many(bundled_papers())
    return [(c.id, c.paper_id, c.text) for c in chunks]


def _bm25s(texts: list[str]) -> bm25s.BM25:
    ref = bm25s.BM25()
    ref.index(bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                             show_progress=False), show_progress=False)
    return ref


def _hits(index: KeywordIndex, query: str, n: int = 20) -> list[tuple[str, float]]:
    return [(h.chunk_id, h.score) for h in index.search(query, n)]


def test_tokens_and_scores_equal_a_fresh_bm25s_index(triples: list[Triple]) -> None:
    texts = [t for _, _, t in triples]
    ref_tokens = bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                                show_progress=False, return_ids=False)
    assert kw._terms(texts) == ref_tokens
    index = KeywordIndex(None)
    index.rebuild(triples)
    ref = _bm25s(texts)
    position = {cid: i for i, (cid, _, _) in enumerate(triples)}
    for query in [*QUERIES, *(t[:80] for t in texts[::17])]:
        hits = index.search(query, 30)
        terms = [t for t in query_terms(query) if t in ref.vocab_dict]
        if not terms:
            assert hits == []
            continue
        full = ref.get_scores(terms)
        # Every score is bit-identical to bm25s's, and nothing scoring more is missing.
        assert hits, query
        assert all(full[position[h.chunk_id]] == np.float32(h.score) for h in hits), query
        expected = np.sort(full[full > 0])[::-1][:30]
        assert np.array_equal(np.array([h.score for h in hits], dtype=np.float32), expected)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@given(st.text(alphabet=st.sampled_from("ab_9 .,-'()\n\té°αΩ"), max_size=60))
def test_fast_word_split_matches_the_bm25s_pattern(text: str) -> None:
    lowered = text.lower()
    assert kw._words(lowered) == kw._TOKEN.findall(lowered)


def test_index_terms_equal_query_terms(triples: list[Triple]) -> None:
    texts = [t for _, _, t in triples[:40]] + ["Déjà vu: na\u00efve α-helix co_op A1 x"]
    vocab = kw._Vocab()
    ids, counts = kw._encode(texts, vocab)
    expected = kw._terms(texts)
    assert counts.tolist() == [len(t) for t in expected]
    assert [vocab.terms[i] for i in ids] == [t for doc in expected for t in doc]


def test_random_updates_equal_a_rebuild_of_what_is_left(triples: list[Triple]) -> None:
    rng = random.Random(7)
    by_paper: dict[str, list[Triple]] = {}
    for t in triples:
        by_paper.setdefault(t[1], []).append(t)
    papers = list(by_paper)
    live: dict[str, list[Triple]] = {}
    index = KeywordIndex(None)
    index.rebuild([])
    for step in range(25):
        add = rng.sample([p for p in papers if p not in live], k=min(6, len(papers) - len(live)))
        drop = rng.sample(list(live), k=min(len(live), rng.randint(0, 3)))
        # Rewrite a paper: its chunks go out and come back (as an ingest of a changed one).
        rewrite = rng.sample([p for p in live if p not in drop], k=min(1, len(live)))
        for p in drop:
            del live[p]
        new = [t for p in add + rewrite for t in by_paper[p]]
        for p in add:
            live[p] = by_paper[p]
        index = index.updated(new, remove_papers=set(drop) | set(rewrite))
        assert len(index) == sum(map(len, live.values())), step
    fresh = KeywordIndex(None)
    fresh.rebuild([t for ts in live.values() for t in ts])
    assert set(index.chunk_ids()) == set(fresh.chunk_ids())
    for query in QUERIES:
        assert _hits(index, query) == _hits(fresh, query), query


def test_updates_persist_and_leave_only_current_files(tmp_path: Path,
                                                      triples: list[Triple]) -> None:
    directory = tmp_path / "kw"
    directory.mkdir()
    (directory / "state.json").write_text("{}")  # the single-bm25s format of before
    (directory / "bm25").mkdir()
    index = KeywordIndex(directory)
    index.rebuild(triples[:100])
    index = index.updated(triples[100:130])
    index = index.updated(triples[130:], remove_papers={triples[0][1]})
    loaded = KeywordIndex(directory)
    assert loaded.load()
    assert len(loaded) == len(index) and loaded.segments == index.segments
    for query in QUERIES:
        assert _hits(loaded, query) == _hits(index, query)
    import json

    manifest = json.loads((directory / kw.MANIFEST).read_text())
    named = {kw.MANIFEST, *manifest["vocab"], *(s["name"] for s in manifest["segments"]),
             *(s["dead"] for s in manifest["segments"] if s["dead"])}
    assert {p.name for p in directory.iterdir()} == named  # older versions cleaned up
    assert not (directory / "state.json").exists()


def test_a_damaged_index_does_not_load(tmp_path: Path, triples: list[Triple]) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.rebuild(triples[:20])
    segment = next(p for p in (tmp_path / "kw").iterdir() if p.is_dir())
    (segment / "rows.npy").write_bytes(b"garbage")
    assert not KeywordIndex(tmp_path / "kw").load()


def test_many_small_updates_keep_few_segments_and_cost_what_they_add(
        monkeypatch: pytest.MonkeyPatch) -> None:
    papers = make_papers(400)
    triples = [(f"{p.id}#h#0", p.id, f"{p.title}\n\n{p.abstract}") for p in papers]
    seen: list[int] = []
    real_encode = kw._encode

    def counting(texts, vocab):  # type: ignore[no-untyped-def]
        seen.append(len(texts))
        return real_encode(texts, vocab)

    index = KeywordIndex(None)
    index.rebuild(triples[:300])
    monkeypatch.setattr(kw, "_encode", counting)
    for i in range(300, 400):
        index = index.updated([triples[i]])
    assert sum(seen) == 100  # each update tokenised its own chunk, nothing else
    assert index.segments <= 6
    fresh = KeywordIndex(None)
    fresh.rebuild(triples)
    for query in ("protein language model", "time series forecasting 7"):
        assert _hits(index, query) == _hits(fresh, query)


class _FakeStore:
    """The two reads `synced` makes, counted."""

    def __init__(self, triples: list[Triple]) -> None:
        self.triples = {t[0]: t for t in triples}
        self.fetched: list[str] = []

    def chunk_ids(self):  # type: ignore[no-untyped-def]
        return iter(list(self.triples))

    def get_chunks(self, ids):  # type: ignore[no-untyped-def]
        self.fetched += ids
        return [self.triples[i] for i in ids]

    def iter_chunks(self):  # type: ignore[no-untyped-def]
        raise AssertionError("a small difference must not re-read every chunk")


def test_synced_reads_only_the_chunks_that_differ(triples: list[Triple]) -> None:
    index = KeywordIndex(None)
    index.rebuild(triples[:-3])
    store = _FakeStore(triples[2:])  # two chunks gone, three new
    synced = index.synced(store)  # type: ignore[arg-type]
    assert sorted(store.fetched) == sorted(t[0] for t in triples[-3:])
    assert set(synced.chunk_ids()) == set(store.triples)
    assert synced.synced(store) is synced  # type: ignore[arg-type]
