"""Re-fit the relevance stage's model: `python bench/relevance_fit.py` (writes
rag/relevance/data/relevance_model.json and prints what the fit reaches).

Data (bench/relevance_data.py, cached under /work/cache/relevance or
$PAPERCHAT_RELEVANCE_CACHE): the default first stage's top candidates for SciFact train's
807 claims (5,183 abstracts), the bundled suite (119 papers), the refusal hold-out suite
and 40 out-of-scope questions on SciFact's corpus.
- pair model (P(paper answers question)): L2 logistic on SciFact train's labelled pairs
  plus the bundled suite's (weight BUNDLED_WEIGHT);
- question model (P(anything answers)): class-balanced logistic over the best pair logit,
  absent question terms and BM25 per term; positives = answerable questions of SciFact and
  the bundled suite, negatives = their out-of-scope questions; the hold-out suite is never
  fitted on;
- refuse_bar: the largest bar refusing at most MAX_FALSE_REFUSAL of the answerable
  questions of each fitted collection; cite_bar: CITE_BAR.
Also printed: each collection measured with models fitted WITHOUT it (generalisation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relevance_data import Collected, collect

from evals import metrics
from rag.relevance.calibration import DATA, Model, RelevanceModel, logistic_model
from rag.relevance.features import (
    FEATURE_NAMES,
    QUESTION_FEATURES,
    Candidate,
    features,
    question_features,
)

DEPTH = 30
L2 = 10.0
BUNDLED_WEIGHT = 3.0
CITE_BAR = 0.5
MAX_FALSE_REFUSAL = 0.02
Row = tuple[Any, list[str], np.ndarray, np.ndarray]  # (query, pids, X, y)


def rows_of(c: Collected, depth: int = DEPTH) -> list[Row]:
    out: list[Row] = []
    for q in c.queries:
        cands = [Candidate(pid, rank, fused, dense, bm25, f"{c.titles[pid]} {c.abstracts[pid]}",
                           c.vectors.get(pid, np.zeros((0, len(q.qvec)))),
                           c.title_vectors.get(pid))
                 for rank, (pid, fused, dense, bm25) in enumerate(q.hits[:depth], 1)]
        absent = sum(1 for v in (q.term_df or {}).values() if v == 0)
        x = features(q.text, q.qvec, cands, absent)
        y = np.array([1.0 if q.labels.get(cd.paper_id, 0) >= 1 else 0.0 for cd in cands])
        out.append((q, [cd.paper_id for cd in cands], x, y))
    return out


def fit_pair(parts: list[tuple[list[Row], float]]) -> Model:
    xs = [r[2] for rows, _ in parts for r in rows]
    ys = [r[3] for rows, _ in parts for r in rows]
    ws = [np.full(len(r[3]), w) for rows, w in parts for r in rows]
    return logistic_model(FEATURE_NAMES, np.vstack(xs), np.concatenate(ys), l2=L2,
                          sample_weight=np.concatenate(ws))


def question_matrix(rows: list[Row], pair: Model) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for q, _pids, x, _y in rows:
        absent = sum(1 for v in (q.term_df or {}).values() if v == 0)
        top = float(pair.logit(x).max()) if len(x) else -30.0
        xs.append(question_features(q.text, top, absent, [h[3] for h in q.hits[:DEPTH]]))
        ys.append(0.0 if q.kind == "none" else 1.0)
    return np.array(xs), np.array(ys)


def fit_question(sets: list[tuple[np.ndarray, np.ndarray]]) -> Model:
    x = np.vstack([s[0] for s in sets])
    y = np.concatenate([s[1] for s in sets])
    pos, neg = y.sum(), len(y) - y.sum()
    weight = np.where(y == 1, 1.0, pos / max(neg, 1.0))
    return logistic_model(QUESTION_FEATURES, x, y, l2=1.0, sample_weight=weight)


def refuse_bar(question: Model, sets: list[tuple[np.ndarray, np.ndarray]]) -> float:
    bars = []
    for x, y in sets:
        p = np.sort(question.probability(x[y == 1]))
        if len(p):
            bars.append(float(p[int(np.floor(MAX_FALSE_REFUSAL * len(p)))]))
    return round(min(bars), 4)


def measure(rows: list[Row], model: RelevanceModel, k: int = 5) -> dict[str, Any]:
    """What the answer path would do with these questions (top k, bars applied)."""
    prec: dict[str, list[float]] = {"single": [], "multi": []}
    cited_n, gold_found, refused_none, none, false_ref, ins = [], [], 0, 0, 0, 0
    ndcg_before, ndcg_after = [], []
    xq, _ = question_matrix(rows, model.pair)
    answer_p = model.question.probability(xq)
    for (q, pids, x, y), p_ans in zip(rows, answer_p, strict=True):
        p = model.pair.probability(x)
        order = sorted(range(len(pids)), key=lambda i: (-p[i], i))
        refuse = p_ans < model.refuse_bar
        if q.kind == "none":
            none += 1
            refused_none += refuse
            continue
        full = [h[0] for h in q.hits]
        ndcg_before.append(metrics.ndcg(q.labels, full, 10))
        ndcg_after.append(metrics.ndcg(q.labels, [pids[i] for i in order] + full[len(pids):],
                                       10))
        ins += 1
        false_ref += refuse
        if refuse:
            continue
        cited = [i for n, i in enumerate(order[:k]) if n == 0 or p[i] >= model.cite_bar]
        prec["single" if len(q.labels) == 1 else "multi"].append(float(np.mean(y[cited])))
        cited_n.append(len(cited))
        gold_found.append(float(y[cited].sum() / max(len(q.labels), 1)))
    return {
        "questions": len(rows),
        "citation_precision_single": _mean(prec["single"]),
        "citation_precision_multi": _mean(prec["multi"]),
        "cited_per_answer": _mean(cited_n), "gold_cited": _mean(gold_found),
        "refusal": f"{refused_none}/{none}", "false_refusal": f"{false_ref}/{ins}",
        "ndcg@10_first_stage": _mean(ndcg_before), "ndcg@10_reranked": _mean(ndcg_after),
    }


def _mean(v: list[float]) -> float | None:
    return round(float(np.mean(v)), 4) if v else None


def build(sf: list[Row], bu: list[Row], oos: list[Row], embedder: str,
          use: tuple[str, ...]) -> RelevanceModel:
    """Fit on the named parts ('scifact' = claims + out-of-scope, 'bundled')."""
    pair_parts = ([(sf, 1.0)] if "scifact" in use else []) + \
        ([(bu, BUNDLED_WEIGHT)] if "bundled" in use else [])
    pair = fit_pair(pair_parts)
    sets = []
    if "scifact" in use:
        xs, ys = question_matrix(sf + oos, pair)
        sets.append((xs, ys))
    if "bundled" in use:
        sets.append(question_matrix(bu, pair))
    question = fit_question(sets)
    return RelevanceModel(pair, question, CITE_BAR, refuse_bar(question, sets), DEPTH,
                          embedder, {"fitted_on": list(use), "l2": L2,
                                     "bundled_weight": BUNDLED_WEIGHT,
                                     "max_false_refusal": MAX_FALSE_REFUSAL})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--dry-run", action="store_true", help="measure only, write nothing")
    args = ap.parse_args()
    data = {n: collect(n) for n in ("scifact", "bundled", "holdout", "scifact-oos")}
    embedder = "all-MiniLM-L6-v2"
    sf, bu, ho, oos = (rows_of(data[n]) for n in ("scifact", "bundled", "holdout",
                                                  "scifact-oos"))
    shipped = build(sf, bu, oos, embedder, ("scifact", "bundled"))
    print(f"refuse_bar {shipped.refuse_bar}  cite_bar {shipped.cite_bar}")
    print("pair weights:", dict(zip(FEATURE_NAMES, np.round(shipped.pair.weights, 3),
                                    strict=True)))
    print("question weights:", dict(zip(QUESTION_FEATURES,
                                        np.round(shipped.question.weights, 3), strict=True)))
    for name, rows in (("scifact", sf), ("scifact-oos", oos), ("bundled", bu),
                       ("holdout", ho)):
        print(f"shipped  -> {name}: {measure(rows, shipped)}")
    only_sf = build(sf, bu, oos, embedder, ("scifact",))
    only_bu = build(sf, bu, oos, embedder, ("bundled",))
    for name, rows in (("bundled", bu), ("holdout", ho)):
        print(f"scifact-only -> {name}: {measure(rows, only_sf)}")
    for name, rows in (("scifact", sf), ("scifact-oos", oos)):
        print(f"bundled-only -> {name}: {measure(rows, only_bu)}")
    if not args.dry_run:
        shipped.save(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
