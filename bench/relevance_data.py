"""Labelled (question, candidate paper) data for fitting and measuring the relevance stage.

Runs the default first stage (`Library.search`) for every question of a dataset and keeps,
per question, the ranked candidates with their first-stage scores plus what the relevance
features need (the question's vector, the collection's term frequencies); per paper, its
sentences and their vectors. Everything is cached under `--cache` (default
/work/cache/relevance or $RELEVANCE_FIT_CACHE) keyed by the dataset, the collection
and the code's FEATURE_INPUTS version, so re-fitting after a feature change costs seconds,
while a new embedder or first stage (a changed collection) is collected afresh.

Datasets (name -> what it is):
- scifact: /work/shared/benchmarks/scifact-train (807 claims, 5,183 abstracts), qrels train;
- bundled: evals/suites/bundled_qa.jsonl on the bundled 119 papers (single, multi, none);
- holdout: evals/suites/refusal_holdout.jsonl on the bundled papers (never fitted on);
- scifact-oos: evals/suites/scifact_oos.jsonl, out-of-scope questions on SciFact's corpus.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from rag.library import Library

FEATURE_INPUTS = 3  # bump when what is collected per question changes (3: tantivy BM25)
DEPTH = 100  # first-stage papers kept per question (the eval's k: same first-stage ranking)
SCIFACT = Path(os.environ.get("PAPERCHAT_SCIFACT", "/work/shared/benchmarks/scifact-train"))
DATASETS = ("scifact", "bundled", "holdout", "scifact-oos")


def cache_dir() -> Path:
    # Not PAPERCHAT_*: pydantic-settings would read PAPERCHAT_RELEVANCE_CACHE as a setting.
    return Path(os.environ.get("RELEVANCE_FIT_CACHE", "/work/cache/relevance"))


@dataclass
class Query:
    qid: str
    text: str
    kind: str  # single | multi | none (SciFact claims count as single/multi by gold size)
    labels: dict[str, int]  # paper id -> grade (>= 1 relevant)
    hits: list[tuple[str, float, float | None, float | None]]  # (pid, fused, dense, bm25)
    term_df: dict[str, int] | None
    top_cosine: float | None
    qvec: np.ndarray | None = None
    mean_cosine: float | None = None  # qvec . the collection's mean chunk vector
    chunks: int = 0  # live chunks in the collection's keyword index


@dataclass
class Collected:
    """One dataset's questions and the sentences of every paper they retrieved."""

    name: str
    collection: str
    queries: list[Query]
    sentences: dict[str, list[str]] = field(default_factory=dict)  # pid -> sentences
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # pid -> [n, dim]
    title_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # pid -> [dim]
    titles: dict[str, str] = field(default_factory=dict)
    abstracts: dict[str, str] = field(default_factory=dict)


def _suite_questions(path: Path, library: Library) -> list[tuple[str, str, str, dict[str, int]]]:
    from evals.suite import load_suite, resolve_gold

    suite = resolve_gold(load_suite(path), library.papers(), library.settings.collection)
    return [(q.id, q.question, q.kind, {pid: 1 for pid in q.gold}) for q in suite.questions]


def open_dataset(name: str) -> tuple[Library, list[tuple[str, str, str, dict[str, int]]]]:
    """The collection (ingested incrementally) and its (qid, text, kind, labels) list."""
    from evals.suite import bundled_suite_path
    from rag.library import Library
    from rag.settings import load_settings

    settings = load_settings()
    suites = bundled_suite_path().parent
    if name in ("scifact", "scifact-oos"):
        from evals.beir import load_beir
        from evals.retrieval import open_index

        dataset = load_beir(SCIFACT, "train")
        library, _ = open_index(settings, dataset)
        if name == "scifact-oos":
            return library, _suite_questions(suites / "scifact_oos.jsonl", library)
        out = []
        for qid, text in dataset.queries.items():
            labels = {d: g for d, g in dataset.qrels[qid].items() if g >= 1}
            out.append((qid, text, "single" if len(labels) == 1 else "multi", labels))
        return library, out
    from ingest.pipeline import ensure_ingested

    library = Library(settings)
    ensure_ingested(library)
    path = suites / ("bundled_qa.jsonl" if name == "bundled" else "refusal_holdout.jsonl")
    return library, _suite_questions(path, library)


def _key(name: str, library: Library) -> str:
    gen = library.store.generation() or ""
    raw = f"{name}|{library.settings.collection}|{gen}|{library.embedder_name}|{FEATURE_INPUTS}"
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def collect(name: str, *, refresh: bool = False) -> Collected:
    """Run (or load from the cache) the first stage for every question of `name`."""
    library, questions = open_dataset(name)
    path = cache_dir() / f"{name}-{_key(name, library)}.pkl"
    if path.is_file() and not refresh:
        with path.open("rb") as fh:
            data = pickle.load(fh)  # plain types: loads whichever way this module was run
        data["queries"] = [Query(**q) for q in data["queries"]]
        out = Collected(**data)
        if out.queries and out.queries[0].mean_cosine is None:  # cached before it existed
            _collection_signals(library, out.queries)
            _save(path, out)
        return out
    from rag.answer.text import split_sentences

    queries: list[Query] = []
    for qid, text, kind, labels in questions:
        r = library.search(text, DEPTH)
        queries.append(Query(qid, text, kind, labels,
                             [(h.paper_id, h.score, h.dense_score, h.bm25_score)
                              for h in r.results], r.term_df, r.top_cosine))
    qvecs = library.embedder.embed_documents([q.text for q in queries])
    for q, v in zip(queries, qvecs, strict=True):
        q.qvec = v
    _collection_signals(library, queries)
    out = Collected(name, library.settings.collection, queries)
    papers = library.papers()
    for p in papers:
        out.titles[p.id] = p.title
        out.abstracts[p.id] = p.abstract
        out.sentences[p.id] = split_sentences(p.abstract)
    out.vectors = sentence_vectors(library, out.sentences)
    tv = sentence_vectors(library, {p.id: [p.title] for p in papers}, "titles")
    out.title_vectors = {pid: v[0] for pid, v in tv.items()}
    _save(path, out)
    return out


def _collection_signals(library: Library, queries: list[Query]) -> None:
    """Set what the question model reads of the collection as a whole (as the stage does:
    Library.mean_vector and the keyword index's live chunks)."""
    mean = library.mean_vector()
    chunks = len(library.keyword)
    for q in queries:
        q.mean_cosine = float(q.qvec @ mean) if mean is not None and q.qvec is not None \
            else None
        q.chunks = chunks


def _save(path: Path, out: Collected) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(asdict(out), fh)
    tmp.replace(path)


def sentence_vectors(library: Library, sentences: dict[str, list[str]],
                     kind: str = "sentences") -> dict[str, np.ndarray]:
    """Vectors of every paper's sentences, cached per collection in one .npz."""
    import numpy as np

    path = cache_dir() / f"{kind}-{library.settings.collection}-{library.embedder_name}.npz"
    have: dict[str, np.ndarray] = {}
    if path.is_file():
        data = np.load(path, allow_pickle=True)
        ids, texts, vecs, offsets = data["ids"], data["texts"], data["vecs"], data["offsets"]
        for i, pid in enumerate(ids):
            lo, hi = offsets[i], offsets[i + 1]
            if list(texts[lo:hi]) == sentences.get(str(pid)):
                have[str(pid)] = vecs[lo:hi]
    missing = [pid for pid in sentences if pid not in have]
    if missing:
        flat = [s for pid in missing for s in sentences[pid]]
        vecs = library.embedder.embed_documents(flat)
        i = 0
        for pid in missing:
            n = len(sentences[pid])
            have[pid] = vecs[i:i + n]
            i += n
        ids = list(have)
        offsets = np.cumsum([0, *(len(have[p]) for p in ids)])
        texts = np.array([s for p in ids for s in sentences[p]], dtype=object)
        allv = np.concatenate([have[p] for p in ids]) if ids else np.zeros((0, 1))
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=np.array(ids, dtype=object), texts=texts, vecs=allv,
                 offsets=offsets)
        tmp.replace(path)
    return have


def main() -> None:
    import argparse
    import time

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--refresh", action="store_true")
    args = ap.parse_args()
    for name in args.datasets:
        t0 = time.perf_counter()
        c = collect(name, refresh=args.refresh)
        print(f"{name}: {len(c.queries)} questions, {len(c.vectors)} papers with sentence "
              f"vectors ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
