"""Our metric functions agree with ranx (the oracle) on random runs, to 1e-6."""

from __future__ import annotations

import itertools
import random

import pytest

from evals import metrics

pytestmark = pytest.mark.slow  # ranx compiles its metrics with numba on first use

ranx = pytest.importorskip("ranx")

NAMES = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100", "ndcg@3", "precision@5"]
RANX = {"ndcg@10": "ndcg@10", "recall@10": "recall@10", "recall@100": "recall@100",
        "mrr@10": "mrr@10", "map@100": "map@100", "ndcg@3": "ndcg@3",
        "precision@5": "precision@5"}


def _random_case(seed: int) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(rng.randint(5, 150))]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, list[str]] = {}
    for q in range(rng.randint(1, 25)):
        qid = f"q{q}"
        judged = rng.sample(docs, rng.randint(1, min(12, len(docs))))
        # graded relevance, some judged-but-irrelevant (0) entries
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        if not any(g >= 1 for g in qrels[qid].values()):
            qrels[qid][judged[0]] = 1
        run[qid] = rng.sample(docs, rng.randint(1, len(docs)))
    return qrels, run


def _ranx_scores(qrels: dict[str, dict[str, int]], run: dict[str, list[str]]
                 ) -> dict[str, dict[str, float]]:
    rq = ranx.Qrels({q: {d: g for d, g in j.items()} for q, j in qrels.items()})
    # distinct descending scores encode the ranking
    rr = ranx.Run({q: {d: float(len(r) - i) for i, d in enumerate(r)} for q, r in run.items()})
    ranx.evaluate(rq, rr, list(RANX.values()))
    return {q: {n: float(rr.scores[RANX[n]][q]) for n in NAMES} for q in run}


@pytest.mark.parametrize("seed", range(15))
def test_per_query_metrics_match_ranx(seed: int) -> None:
    qrels, run = _random_case(seed)
    ours = metrics.per_query(qrels, run, NAMES)
    oracle = _ranx_scores(qrels, run)
    assert set(ours) == set(oracle)
    for qid in oracle:
        for name in NAMES:
            assert ours[qid][name] == pytest.approx(oracle[qid][name], abs=1e-6), (qid, name)


@pytest.mark.parametrize("seed", range(10))
def test_means_match_ranx(seed: int) -> None:
    qrels, run = _random_case(1000 + seed)
    rq = ranx.Qrels(qrels)
    rr = ranx.Run({q: {d: float(len(r) - i) for i, d in enumerate(r)} for q, r in run.items()})
    oracle = ranx.evaluate(rq, rr, list(metrics.RETRIEVAL_METRICS))
    ours = metrics.evaluate(qrels, run, metrics.RETRIEVAL_METRICS)
    for name in metrics.RETRIEVAL_METRICS:
        assert ours[name] == pytest.approx(float(oracle[name]), abs=1e-6), name


def test_hand_computed_values() -> None:
    qrels = {"q": {"a": 1, "b": 1, "z": 0}}
    run = {"q": ["x", "a", "y", "b"]}
    got = metrics.per_query(qrels, run, ["mrr@10", "recall@2", "map@100", "ndcg@10"])["q"]
    assert got["mrr@10"] == 0.5
    assert got["recall@2"] == 0.5
    assert got["map@100"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    ideal = 1 + 1 / 1.5849625007211563
    assert got["ndcg@10"] == pytest.approx((1 / 1.5849625007211563 + 1 / 2.321928094887362)
                                           / ideal)


def test_duplicate_chunk_hits_count_once_at_best_rank() -> None:
    qrels = {"q": {"a": 1, "b": 1}}
    dup = {"q": ["a", "a", "a", "b"]}
    assert metrics.per_query(qrels, dup, ["recall@2"])["q"]["recall@2"] == 1.0
    assert metrics.dedupe(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_missing_and_unjudged_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    run = {"q1": ["a"], "extra": ["a"]}
    rows = metrics.per_query(qrels, run, ["recall@10"])
    assert rows == {"q1": {"recall@10": 1.0}, "q2": {"recall@10": 0.0}}
    assert metrics.evaluate(qrels, run, ["recall@10"]) == {"recall@10": 0.5}
    assert metrics.evaluate({}, {}, ["recall@10"]) == {"recall@10": 0.0}


def test_recall_curve_is_monotone_and_ends_at_recall_at_k() -> None:
    qrels, run = _random_case(7)
    curve = metrics.recall_curve(qrels, run, 20)
    assert len(curve) == 20
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(curve))
    assert curve[-1] == pytest.approx(metrics.evaluate(qrels, run, ["recall@20"])["recall@20"])


def test_unknown_metric_name() -> None:
    with pytest.raises(ValueError, match="unknown metric 'ndgc@10'"):
        metrics.metric("ndgc@10")
    with pytest.raises(ValueError):
        metrics.metric("recall@0")


def test_percentile_matches_numpy() -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(3)
    values = [rng.uniform(0, 1000) for _ in range(37)]
    for q in (0, 50, 95, 100):
        assert metrics.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert metrics.percentile([], 50) is None
