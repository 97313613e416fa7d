"""Ranking metrics over paper-level runs, defined as trec_eval/ranx define them.

`qrels` maps a query id to {doc id: graded relevance}; a grade below 1 is not relevant.
`run` maps a query id to doc ids, best first. Gains are linear (trec_eval's nDCG, ranx's
default "ndcg"). A query with no relevant doc scores 0; a query missing from the run
scores 0; run-only queries are ignored. ranx is the test oracle (tests/evals).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]
Metric = Callable[[Mapping[str, int], Sequence[str], int], float]

RETRIEVAL_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100")
_NAME = re.compile(r"^(ndcg|recall|mrr|map|precision|hit)@([1-9][0-9]*)$")


def dedupe(ranking: Iterable[str]) -> list[str]:
    """Doc ids in first-seen order: chunk hits of one paper count once, at its best rank."""
    return list(dict.fromkeys(ranking))


def _relevant(qrels: Mapping[str, int]) -> dict[str, int]:
    return {doc: grade for doc, grade in qrels.items() if grade >= 1}


def ndcg(qrels: Mapping[str, int], ranking: Sequence[str], k: int) -> float:
    """Normalised discounted cumulative gain at k, linear gains."""
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    dcg = sum(rel.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg


def recall(qrels: Mapping[str, int], ranking: Sequence[str], k: int) -> float:
    """Share of the relevant docs found in the top k."""
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    return sum(1 for doc in ranking[:k] if doc in rel) / len(rel)


def precision(qrels: Mapping[str, int], ranking: Sequence[str], k: int) -> float:
    """Share of the top k that is relevant (missing ranks count as non-relevant)."""
    rel = _relevant(qrels)
    return sum(1 for doc in ranking[:k] if doc in rel) / k if rel else 0.0


def mrr(qrels: Mapping[str, int], ranking: Sequence[str], k: int) -> float:
    """Reciprocal rank of the first relevant doc in the top k (0 if none)."""
    rel = _relevant(qrels)
    for i, doc in enumerate(ranking[:k]):
        if doc in rel:
            return 1.0 / (i + 1)
    return 0.0


def hit(qrels: Mapping[str, int], ranking: Sequence[str], k: int) -> float:
    """1 if any relevant doc is in the top k."""
    return 1.0 if mrr(qrels, ranking, k) > 0 else 0.0


def average_precision(qrels: Mapping[str, int], ranking: Sequence[str], k: int) -> float:
    """Sum of precision at each relevant rank within k, over all relevant docs (trec AP@k)."""
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    found, total = 0, 0.0
    for i, doc in enumerate(ranking[:k]):
        if doc in rel:
            found += 1
            total += found / (i + 1)
    return total / len(rel)


_FUNCS: dict[str, Metric] = {"ndcg": ndcg, "recall": recall, "mrr": mrr,
                             "map": average_precision, "precision": precision, "hit": hit}


def metric(name: str) -> tuple[Metric, int]:
    """'ndcg@10' -> (ndcg, 10); ValueError for anything else."""
    m = _NAME.match(name)
    if not m:
        raise ValueError(f"unknown metric {name!r}; expected ndcg|recall|mrr|map|precision|hit@K")
    return _FUNCS[m.group(1)], int(m.group(2))


def per_query(qrels: Qrels, run: Run, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """{query id: {metric: value}} for every query with at least one relevant doc."""
    funcs = {name: metric(name) for name in names}
    out: dict[str, dict[str, float]] = {}
    for qid, judged in qrels.items():
        if not _relevant(judged):
            continue
        ranking = dedupe(run.get(qid, ()))
        out[qid] = {name: f(judged, ranking, k) for name, (f, k) in funcs.items()}
    return out


def evaluate(qrels: Qrels, run: Run, names: Sequence[str]) -> dict[str, float]:
    """Mean of each metric over the judged queries (0.0 for all when there are none)."""
    rows = per_query(qrels, run, names)
    return {name: mean([r[name] for r in rows.values()]) or 0.0 for name in names}


def recall_curve(qrels: Qrels, run: Run, max_k: int) -> list[float]:
    """Mean Recall@k for k = 1..max_k."""
    return [evaluate(qrels, run, [f"recall@{k}"])[f"recall@{k}"] for k in range(1, max_k + 1)]


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; None for no values (a metric that is not defined on this suite)."""
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    import numpy as np

    return float(np.percentile(values, q)) if values else None
