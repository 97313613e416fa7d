"""The tantivy keyword index: analysis, BM25 ranking, incremental updates and deletes,
commits that are all or nothing, other processes' commits, syncing from a chunk source."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag.analysis import query_terms
from rag.chunking import Chunker
from rag.keyword import K1, KeywordIndex
from rag.settings import Settings
from tests.conftest import bundled_papers, make_papers

Triple = tuple[str, str, str]
ROOT = Path(__file__).resolve().parents[2]

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


def _ids(index: KeywordIndex, query: str, n: int = 10) -> list[str]:
    return [h.chunk_id for h in index.search(query, n)]


def test_analysis_lowercases_drops_stopwords_and_short_words_and_stems() -> None:
    assert query_terms("The Networks of a 3D-CNN, trained on 2 GPUs; x_y") == [
        "network", "3d", "cnn", "train", "gpus"]
    assert query_terms("the of and a") == []  # Lucene's English stopwords
    assert query_terms("1 2 x 42") == ["42"]  # one-character words are dropped


def test_bm25_scores_follow_the_formula(tmp_path: Path) -> None:
    """Scores are tantivy's BM25 (k1 1.2, b 0.75, Lucene idf) without the (k1 + 1) factor;
    lengths here are short enough for tantivy's length encoding to be exact."""
    docs = [("a#0", "a", "zebrafish fins regrow"), ("b#0", "b", "zebrafish zebrafish heart"),
            ("c#0", "c", "mouse heart cells regrow quickly after injury")]
    index = KeywordIndex(tmp_path / "kw")
    index.rebuild(docs)
    lengths = {cid: len(query_terms(text)) for cid, _, text in docs}
    avg = sum(lengths.values()) / len(lengths)

    def bm25(cid: str, tf: int, df: int) -> float:
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        return idf * tf / (tf + K1 * (0.25 + 0.75 * lengths[cid] / avg))

    hits = {h.chunk_id: h.score for h in index.search("zebrafish", 5)}
    assert hits == pytest.approx({"a#0": bm25("a#0", 1, 2), "b#0": bm25("b#0", 2, 2)},
                                 rel=1e-5)
    assert list(hits) == ["b#0", "a#0"]  # two occurrences beat one
    assert index.search("heart regrow", 5)[0].paper_id in {"b", "c"}
    assert index.search("nothing matches", 5) == []


def test_documents_and_queries_share_the_analysis(triples: list[Triple]) -> None:
    index = KeywordIndex(None)
    index.rebuild(triples)
    for cid, _, text in triples[::9]:
        # A chunk's own opening words find it among the top hits.
        assert cid in _ids(index, " ".join(text.split()[:25]), 5), cid
    for query in QUERIES:
        assert [h.score for h in index.search(query, 20)] == sorted(
            (h.score for h in index.search(query, 20)), reverse=True)


def test_random_updates_equal_a_rebuild_of_what_is_left(triples: list[Triple]) -> None:
    rng = random.Random(7)
    by_paper: dict[str, list[Triple]] = {}
    for t in triples:
        by_paper.setdefault(t[1], []).append(t)
    papers = list(by_paper)
    live: dict[str, list[Triple]] = {}
    index = KeywordIndex(None)
    for step in range(25):
        add = rng.sample([p for p in papers if p not in live], k=min(6, len(papers) - len(live)))
        drop = rng.sample(list(live), k=min(len(live), rng.randint(0, 3)))
        # Rewrite a paper: its chunks go out and come back (as an ingest of a changed one).
        rewrite = rng.sample([p for p in live if p not in drop], k=min(1, len(live)))
        for p in drop:
            del live[p]
        with index.writer() as w:
            w.delete_papers(set(drop) | set(rewrite))  # before the new chunks
            w.add([t for p in add + rewrite for t in by_paper[p]])
        for p in add:
            live[p] = by_paper[p]
        assert len(index) == sum(map(len, live.values())), step
    fresh = KeywordIndex(None)
    fresh.rebuild([t for ts in live.values() for t in ts])
    assert sorted(index.chunk_ids()) == sorted(fresh.chunk_ids())
    for query in QUERIES:
        # Deleted chunks count in tantivy's statistics until their segment merges, so
        # scores may differ by a few percent: the same chunks match, and the best agrees.
        got, want = index.search(query, 200), fresh.search(query, 200)
        assert {h.chunk_id for h in got} == {h.chunk_id for h in want}, query
        assert [h.chunk_id for h in got[:1]] == [h.chunk_id for h in want[:1]], query
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=0.1)


def test_changed_papers_are_replaced_and_deleted_ones_gone_after_reopening(
        tmp_path: Path, triples: list[Triple]) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.rebuild(triples)
    target = triples[0][1]
    gone = triples[-1][1]
    with index.writer() as w:
        w.delete_papers([target, gone])
        w.add([(f"{target}#new#0", target, "Axolotl limbs regrow after amputation.")])
    reopened = KeywordIndex(tmp_path / "kw")
    ids = set(reopened.chunk_ids())
    assert f"{target}#new#0" in ids
    assert not any(cid.startswith((f"{target}#", f"{gone}#")) and "#new#" not in cid
                   for cid in ids)
    assert [h.paper_id for h in reopened.search("axolotl amputation", 3)] == [target]
    assert len(reopened) == len(triples) + 1 - sum(
        1 for t in triples if t[1] in (target, gone))


def test_a_failed_write_leaves_the_last_commit(tmp_path: Path, triples: list[Triple]) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.rebuild(triples[:20])
    before = sorted(index.chunk_ids())
    with pytest.raises(RuntimeError), index.writer() as w:
        w.delete_all()
        w.add([("x#0", "x", "axolotl")])
        raise RuntimeError("embedding failed")
    assert sorted(index.chunk_ids()) == before
    assert sorted(KeywordIndex(tmp_path / "kw").chunk_ids()) == before
    with index.writer() as w:  # the writer was released
        w.add([("x#0", "x", "axolotl")])
    assert _ids(index, "axolotl") == ["x#0"]


def test_document_frequencies_count_live_chunks_only(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.rebuild([("a#0", "a", "Sybil detection in social networks"),
                   ("a#1", "a", "Graph attention networks for Sybil accounts"),
                   ("b#0", "b", "Brachytherapy segmentation with graph networks")])
    df = index.document_frequencies(query_terms("sybil graph brachytherapy lidar"))
    assert df == {"sybil": 2, "graph": 2, "brachytherapi": 1, "lidar": 0}
    with index.writer() as w:
        w.delete_papers(["b"])
    assert index.document_frequencies(["brachytherapi", "graph", "sybil"]) == {
        "brachytherapi": 0, "graph": 1, "sybil": 2}


def test_common_terms_are_not_walked_but_never_read_as_absent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Above EXACT_DF a count may include chunks deleted since the last merge, but a term
    whose chunks may all be deleted is still counted (the refusal needs its 0)."""
    monkeypatch.setattr("rag.keyword.EXACT_DF", 0)
    index = KeywordIndex(None)
    index.rebuild([(f"g{i}#0", f"g{i}", "graph networks") for i in range(5)]
                  + [("s#0", "s", "sybil graph")])
    with index.writer() as w:
        w.delete_papers(["s", "g0"])
    df = index.document_frequencies(["graph", "sybil", "network"])
    assert df["sybil"] == 0  # in no more chunks than were deleted: counted
    assert 4 <= df["network"] <= 5 and 4 <= df["graph"] <= 6  # live 4, at most 2 more


def test_a_directory_in_another_format_is_replaced(tmp_path: Path) -> None:
    directory = tmp_path / "kw"
    directory.mkdir()
    (directory / "manifest.json").write_text('{"format": 2}')  # the hand-built index
    (directory / "s-0123").mkdir()
    index = KeywordIndex(directory)
    assert len(index) == 0 and not (directory / "manifest.json").exists()
    index.rebuild([("a#0", "a", "axolotl")])
    (directory / "meta.json").write_text("{not json")  # damaged: rebuilt from Chroma
    assert len(KeywordIndex(directory)) == 0


def test_many_small_updates_keep_few_segments(triples: list[Triple]) -> None:
    papers = make_papers(120)
    rows = [(f"{p.id}#h#0", p.id, f"{p.title}\n\n{p.abstract}") for p in papers]
    index = KeywordIndex(None)
    index.rebuild(rows[:100])
    for row in rows[100:]:
        with index.writer() as w:
            w.add([row])
    assert len(index) == 120
    assert index.segments <= 12  # tantivy merges small segments (log merge policy)
    fresh = KeywordIndex(None)
    fresh.rebuild(rows)
    for query in ("protein language model", "time series forecasting 7"):
        assert _ids(index, query) == _ids(fresh, query)


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from rag.keyword import KeywordIndex

    index = KeywordIndex(Path(sys.argv[1]))
    with index.writer() as w:
        w.add([("axo#0", "axo", "Axolotl limbs regrow after amputation.")])
    print("committed", flush=True)
""")


def test_another_process_commit_reaches_an_open_index(tmp_path: Path,
                                                      triples: list[Triple]) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.rebuild(triples[:10])
    assert index.search("axolotl", 3) == []
    out = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path / "kw")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True)
    assert "committed" in out.stdout
    index.reload()  # what a Library does when it notices the write (tantivy: within ~0.5 s)
    assert _ids(index, "axolotl") == ["axo#0"]


class _FakeStore:
    """The reads `sync` makes, counted."""

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


def test_sync_reads_only_the_chunks_that_differ(triples: list[Triple]) -> None:
    index = KeywordIndex(None)
    index.rebuild(triples[:-3])
    store = _FakeStore(triples[2:])  # two chunks gone, three new
    assert index.sync(store)
    assert sorted(store.fetched) == sorted(t[0] for t in triples[-3:])
    assert set(index.chunk_ids()) == set(store.triples)
    assert not index.sync(store)


def test_meta_json_names_the_analysis(tmp_path: Path) -> None:
    """A change of analysis must rebuild existing indexes: its name is in the schema."""
    KeywordIndex(tmp_path / "kw").rebuild([("a#0", "a", "axolotl")])
    meta = json.loads((tmp_path / "kw" / "meta.json").read_text())
    tokenizers = {f["name"]: f["options"]["indexing"]["tokenizer"] for f in meta["schema"]}
    assert tokenizers["text"].startswith("paperchat_en_")
