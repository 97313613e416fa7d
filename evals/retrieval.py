"""Retrieval eval: index a BEIR corpus in its own collection, rank every query, score papers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from evals import metrics

if TYPE_CHECKING:
    from evals.beir import BeirDataset
    from rag.library import Library
    from rag.settings import Settings

Progress = Callable[[int, int], None]
SHOWN_HITS = 5  # retrieved papers listed per failing query


def parse_modes(text: str) -> list[str]:
    """'bm25,dense' -> ['default', 'bm25', 'dense']: `default` is always evaluated, first."""
    from rag.vocab import check_mode

    modes = [check_mode(m.strip()) for m in text.split(",") if m.strip()]
    return list(dict.fromkeys(["default", *modes]))


def open_index(settings: Settings, dataset: BeirDataset, progress: Progress | None = None
               ) -> tuple[Library, dict[str, Any]]:
    """The dataset's own collection, ingested incrementally (a second run embeds nothing)."""
    from evals.beir import index_collection_name
    from rag.library import Library

    library = Library(settings.with_overrides(collection=index_collection_name(dataset,
                                                                               settings)))
    report = library.ingest(dataset.corpus, progress=progress)
    return library, {"collection": report.collection, "papers": report.papers,
                     "embedded": report.added + report.updated,
                     "unchanged": report.unchanged, "seconds": round(report.seconds, 3)}


def rank_all(library: Library, dataset: BeirDataset, mode: str, k: int,
             progress: Progress | None = None) -> tuple[dict[str, list[str]], list[float]]:
    """{query id: paper ids best first} and per-query latencies (ms) for one mode."""
    run: dict[str, list[str]] = {}
    latencies: list[float] = []
    total = len(dataset.queries)
    for i, (qid, text) in enumerate(dataset.queries.items(), 1):
        t0 = time.perf_counter()
        response = library.search(text, k, mode=mode)
        latencies.append((time.perf_counter() - t0) * 1000)
        ids = [hit.paper_id for hit in response.results]
        # Library.search aggregates chunks to papers; a repeat would be a bug there.
        assert len(set(ids)) == len(ids), f"duplicate papers in {mode} ranking for {qid}"
        run[qid] = metrics.dedupe(ids)
        if progress:
            progress(i, total)
    return run, latencies


def run_retrieval(library: Library, index: dict[str, Any], dataset: BeirDataset,
                  modes: Sequence[str], k: int, progress: Progress | None = None
                  ) -> dict[str, Any]:
    """The full retrieval result: summary, per-query scores, curves, failing queries."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    results: dict[str, dict[str, float]] = {}
    curves: dict[str, list[float]] = {}
    latency: dict[str, list[float]] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    runs: dict[str, dict[str, list[str]]] = {}
    n = len(dataset.queries)
    for step, mode in enumerate(modes):
        def tick(done: int, _total: int, base: int = step * n) -> None:
            if progress:
                progress(base + done, n * len(modes))

        run, latency[mode] = rank_all(library, dataset, mode, k, tick)
        runs[mode] = run
        results[mode] = metrics.evaluate(dataset.qrels, run, metrics.RETRIEVAL_METRICS)
        curves[mode] = metrics.recall_curve(dataset.qrels, run, k)
        for qid, row in metrics.per_query(dataset.qrels, run,
                                          [*metrics.RETRIEVAL_METRICS, "hit@10"]).items():
            per_query.setdefault(qid, {})[mode] = row
    titles = {p.id: p.title for p in dataset.corpus}
    cfg = library.settings.retrieval
    return {
        "kind": "retrieval",
        "dataset": dataset.name,
        "queries": len(dataset.queries),
        "corpus": len(dataset.corpus),
        "k": k,
        "modes": list(modes),
        "results": results,
        "default_is": {"fusion": cfg.fusion, "dense_weight": cfg.dense_weight,
                       "rrf_k": cfg.rrf_k, "candidates": cfg.candidates},
        "embedder": library.embedder_name,
        "index": index,
        "latency_ms": {m: {"p50": metrics.percentile(v, 50), "p95": metrics.percentile(v, 95)}
                       for m, v in latency.items()},
        "latencies_ms": latency,
        "recall_curve": curves,
        "per_query": per_query,
        "failing": _failing(dataset, runs["default"], per_query, titles),
        "warnings": dataset.warnings,
        "created": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _failing(dataset: BeirDataset, run: dict[str, list[str]],
             per_query: dict[str, dict[str, dict[str, float]]], titles: dict[str, str]
             ) -> list[dict[str, Any]]:
    """Queries whose default ranking has no relevant paper in the top 10."""
    rows = []
    for qid, scores in per_query.items():
        if scores["default"]["hit@10"]:
            continue
        gold = [d for d, g in dataset.qrels[qid].items() if g >= 1]
        rows.append({
            "id": qid, "question": dataset.queries[qid],
            "gold": [{"paper_id": d, "title": titles.get(d, "")} for d in gold],
            "retrieved": [{"paper_id": d, "title": titles.get(d, "")}
                          for d in run.get(qid, [])[:SHOWN_HITS]],
        })
    return rows


SUMMARY_KEYS = ("dataset", "queries", "corpus", "results", "kind", "k", "modes", "default_is",
                "embedder", "index", "latency_ms", "seconds")


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """What `--json` prints: the scores without the per-query detail (that is in the report)."""
    return {key: result[key] for key in SUMMARY_KEYS if key in result}
