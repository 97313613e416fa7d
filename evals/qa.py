"""QA eval: every suite question through Library.search and Assistant.ask, then scored.

Per question: retrieval (recall@5, mrr@10 of the default ranking against the gold papers),
citations (precision: cited papers that are gold; recall: gold papers cited), facts found
in the answer (case-insensitive), refusal, answer sentences flagged unsupported, latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from evals import metrics
from evals.suite import fold

if TYPE_CHECKING:
    from evals.judge import Judge
    from evals.suite import Question, Suite
    from rag.answer.models import Answer
    from rag.answer.service import Assistant
    from rag.library import Library

Progress = Callable[[int, int], None]
RETRIEVE_K = 10
QA_METRICS = ("recall@5", "mrr@10", "citation_precision", "citation_precision_single",
              "citation_precision_multi", "supported_precision", "citation_recall",
              "fact_recall",
              "refusal_accuracy", "false_refusal_rate", "unsupported_rate",
              "latency_p50_ms", "latency_p95_ms")
JUDGE_METRICS = ("faithfulness", "answer_relevance")


def score_question(q: Question, retrieved: list[str], answer: Answer,
                   latency_ms: float) -> dict[str, Any]:
    """One per_question row: what was retrieved, cited and found, and the verdict."""
    gold = set(q.gold)
    qrels = {pid: 1 for pid in q.gold}
    cited = list(dict.fromkeys(c.paper_id for c in answer.citations))
    text = fold(answer.answer)
    found = [f for f in q.facts if fold(f) in text]
    sentences = [] if answer.refused else answer.sentences
    row: dict[str, Any] = {
        "id": q.id, "kind": q.kind, "question": q.question, "gold": list(q.gold),
        "retrieved": retrieved, "cited": cited, "refused": answer.refused,
        "answer": answer.answer, "engine": answer.engine, "degraded": answer.degraded,
        "facts_found": found, "facts_missing": [f for f in q.facts if f not in found],
        "sentences": len(sentences),
        "unsupported": sum(1 for s in sentences if not s.get("supported", True)),
        "latency_ms": round(latency_ms, 2),
        "recall@5": None, "mrr@10": None, "citation_precision": None,
        "supported_precision": None, "citation_recall": None, "fact_recall": None,
    }
    if q.answerable:
        row["recall@5"] = metrics.recall(qrels, retrieved, 5)
        row["mrr@10"] = metrics.mrr(qrels, retrieved, 10)
        row["citation_recall"] = len(gold.intersection(cited)) / len(gold)
        if cited:
            row["citation_precision"] = len(gold.intersection(cited)) / len(cited)
            # A cited paper counts when it is relevant (gold) and some sentence citing it
            # is supported: a right citation the answer's text actually stands on.
            backed = {answer.citations[n - 1].paper_id for s in sentences
                      if s.get("supported") for n in s.get("citations", [])
                      if 0 < n <= len(answer.citations)}
            row["supported_precision"] = len(gold & backed) / len(cited)
        if q.facts:
            row["fact_recall"] = len(found) / len(q.facts)
    row["why"] = _why(q, row)
    row["passed"] = not row["why"]
    return row


def _why(q: Question, row: dict[str, Any]) -> list[str]:
    """Reasons a question failed (empty: it passed)."""
    if not q.answerable:
        return [] if row["refused"] else ["answered a question the collection does not cover"]
    if row["refused"]:
        return ["refused an answerable question"]
    why = []
    if not row["citation_recall"]:
        why.append("cited no gold paper")
    if row["facts_missing"]:
        why.append("missing facts: " + "; ".join(row["facts_missing"]))
    return why


def _mean_of(rows: list[dict[str, Any]], key: str) -> float | None:
    return metrics.mean([r[key] for r in rows if r.get(key) is not None])


def aggregate(rows: list[dict[str, Any]], judged: bool = False) -> dict[str, float | None]:
    """Suite-level metrics; None where a metric has no question to be measured on."""
    answerable = [r for r in rows if r["kind"] != "none"]
    none = [r for r in rows if r["kind"] == "none"]
    answered = [r for r in rows if not r["refused"]]
    sentences = sum(r["sentences"] for r in answered)
    latencies = [r["latency_ms"] for r in rows]
    out: dict[str, float | None] = {
        "recall@5": _mean_of(answerable, "recall@5"),
        "mrr@10": _mean_of(answerable, "mrr@10"),
        "citation_precision": _mean_of(answerable, "citation_precision"),
        # One paper holds the answer / several do (the per-kind precision).
        "citation_precision_single": _mean_of([r for r in rows if r["kind"] == "single"],
                                              "citation_precision"),
        "citation_precision_multi": _mean_of([r for r in rows if r["kind"] == "multi"],
                                             "citation_precision"),
        "supported_precision": _mean_of(answerable, "supported_precision"),
        "citation_recall": _mean_of(answerable, "citation_recall"),
        "fact_recall": _mean_of(answerable, "fact_recall"),
        "refusal_accuracy": metrics.mean([float(r["refused"]) for r in none]),
        "false_refusal_rate": metrics.mean([float(r["refused"]) for r in answerable]),
        "unsupported_rate": (sum(r["unsupported"] for r in answered) / sentences
                             if sentences else None),
        "latency_p50_ms": metrics.percentile(latencies, 50),
        "latency_p95_ms": metrics.percentile(latencies, 95),
    }
    if judged:
        for key in JUDGE_METRICS:
            out[key] = _mean_of(rows, key)
    return out


def run_qa(library: Library, assistant: Assistant, suite: Suite, *, engine: str | None = None,
           judge: Judge | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Ask every question; the result holds metrics, per-kind metrics and per-question rows."""
    from evals.suite import resolve_gold

    started = datetime.now(UTC)
    t0 = time.perf_counter()
    resolved_engine = assistant.resolve_engine(engine)
    papers = library.papers()
    suite = resolve_gold(suite, papers, library.settings.collection)
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(suite.questions, 1):
        hits = library.search(q.question, RETRIEVE_K).results
        retrieved = metrics.dedupe(h.paper_id for h in hits)
        t = time.perf_counter()
        answer = assistant.ask(q.question, engine=resolved_engine)
        row = score_question(q, retrieved, answer, (time.perf_counter() - t) * 1000)
        if judge is not None and not answer.refused:
            row.update(judge.score(q.question, answer))
        rows.append(row)
        if progress:
            progress(i, len(suite.questions))
    kinds = sorted({r["kind"] for r in rows}, key=("single", "multi", "none").index)
    titles = {p.id: p.title for p in papers}
    mentioned = {pid for r in rows for key in ("gold", "retrieved", "cited") for pid in r[key]}
    answerable = {q.id: {pid: 1 for pid in q.gold} for q in suite.questions if q.answerable}
    run = {r["id"]: r["retrieved"] for r in rows}
    return {
        "kind": "qa", "suite": suite.name, "suite_path": suite.path,
        "questions": len(rows), "counts": {k: sum(r["kind"] == k for r in rows) for k in kinds},
        "collection": library.settings.collection, "papers": len(papers),
        "engine": resolved_engine, "embedder": library.embedder_name,
        "judge": judge is not None,
        "metrics": aggregate(rows, judge is not None),
        "by_kind": {k: aggregate([r for r in rows if r["kind"] == k], judge is not None)
                    for k in kinds},
        "judge_errors": sum(1 for r in rows if r.get("judge_error")),
        "recall_curve": {"default": metrics.recall_curve(answerable, run, RETRIEVE_K)},
        "latencies_ms": [r["latency_ms"] for r in rows],
        "per_question": rows,
        "titles": {pid: titles.get(pid, "") for pid in sorted(mentioned)},
        "created": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 3),
    }
