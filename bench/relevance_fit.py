"""Re-fit the relevance stage's model: `python bench/relevance_fit.py` (writes
rag/relevance/data/relevance_model.json and prints what the fit reaches).

Data (bench/relevance_data.py, cached under /work/cache/relevance or
$RELEVANCE_FIT_CACHE): the default first stage's top candidates for SciFact train's
807 claims (5,183 abstracts), the bundled suite (119 papers), the refusal hold-out suite
and 40 out-of-scope questions on SciFact's corpus.
- pair model (P(paper answers question)): L2 logistic over the first 24 features on
  SciFact train's labelled pairs plus the bundled suite's (weight BUNDLED_WEIGHT);
- ranker (the order search re-ranks by): scikit-learn's HistGradientBoosting over all
  features, fitted on SciFact train's pairs only, exported to plain arrays (the runtime
  needs no scikit-learn), Platt-scaled on out-of-fold SciFact scores and the bundled
  suite's; its figures are 5-fold cross-validated by claim;
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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relevance_data import Collected, collect

from evals import metrics
from rag.relevance.calibration import (
    DATA,
    Model,
    RelevanceModel,
    Trees,
    fit_logistic,
    logistic_model,
)
from rag.relevance.features import (
    FEATURE_NAMES,
    QUESTION_FEATURES,
    Candidate,
    QuestionEvidence,
    features,
    question_features,
)
from rag.relevance.intent import asks_for_papers
from rag.settings import RelevanceSettings

DEPTH = 30
L2 = 10.0
BUNDLED_WEIGHT = 3.0
CITE_BAR = 0.5
LIST_BAR = RelevanceSettings().list_cite_bar  # the product's bar for list questions
MAX_FALSE_REFUSAL = 0.02
FOLDS = 5  # cross-validation by question (a question's candidates stay in one fold)
SEED = 0
# The pair model's features: the first 24 (the ranker's trees read all of FEATURE_NAMES).
PAIR_FEATURES = FEATURE_NAMES[:24]
# The ranker's trees (scikit-learn HistGradientBoostingClassifier, log loss).
TREES: dict[str, Any] = {"max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 15,
                         "min_samples_leaf": 50, "early_stopping": False, "random_state": 0}
Row = tuple[Any, list[str], np.ndarray, np.ndarray]  # (query, pids, X, y)


def rows_of(c: Collected, depth: int = DEPTH) -> list[Row]:
    out: list[Row] = []
    for q in c.queries:
        cands = [Candidate(pid, rank, fused, dense, bm25, f"{c.titles[pid]} {c.abstracts[pid]}",
                           c.vectors.get(pid, np.zeros((0, len(q.qvec)))),
                           c.title_vectors.get(pid), tuple(c.sentences.get(pid, ())),
                           c.titles[pid])
                 for rank, (pid, fused, dense, bm25) in enumerate(q.hits[:depth], 1)]
        absent = sum(1 for v in (q.term_df or {}).values() if v == 0)
        x = features(q.text, q.qvec, cands, absent)
        y = np.array([1.0 if q.labels.get(cd.paper_id, 0) >= 1 else 0.0 for cd in cands])
        out.append((q, [cd.paper_id for cd in cands], x, y))
    return out


def _pair_cols() -> list[int]:
    return [FEATURE_NAMES.index(n) for n in PAIR_FEATURES]


def _pair_logit(model: Model) -> Any:
    return lambda x: model.logit(model.columns(x, FEATURE_NAMES))


def _stack(parts: list[tuple[list[Row], float]]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = [r[2] for rows, _ in parts for r in rows]
    ys = [r[3] for rows, _ in parts for r in rows]
    ws = [np.full(len(r[3]), w) for rows, w in parts for r in rows]
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def _trees(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier  # fit time only

    return HistGradientBoostingClassifier(**TREES).fit(x, y, sample_weight=w)


def _raw_scores(parts: list[tuple[list[Row], float]], kind: str,
                folds: int | None) -> list[list[np.ndarray]]:
    """Per part, per question: the uncalibrated pair score of each candidate; out of fold
    (the question's fold left out of the fit, folds assigned by question) when `folds`."""
    flat = [(pi, qi) for pi, (rows, _) in enumerate(parts) for qi in range(len(rows))]
    out: list[list[np.ndarray]] = [[np.zeros(0)] * len(rows) for rows, _ in parts]
    fold = (np.random.default_rng(SEED).integers(0, folds, len(flat)) if folds
            else np.full(len(flat), -1))
    for f in sorted(set(fold.tolist())):
        train = [[r for qi, r in enumerate(rows) if fold[flat.index((pi, qi))] != f]
                 for pi, (rows, _) in enumerate(parts)] if folds else \
            [rows for rows, _ in parts]
        x, y, w = _stack([(t, wt) for t, (_, wt) in zip(train, parts, strict=True)])
        if kind == "trees":
            model = _trees(x, y, w)
            score = model.decision_function
        else:
            linear = logistic_model(PAIR_FEATURES, x[:, _pair_cols()], y, l2=L2,
                                    sample_weight=w)
            score = _pair_logit(linear)
        for n, (pi, qi) in enumerate(flat):
            if fold[n] == f:
                out[pi][qi] = score(parts[pi][0][qi][2])
    return out


def fit_pair(parts: list[tuple[list[Row], float]], kind: str = "trees",
             calibrate_on: list[tuple[list[Row], float]] | None = None
             ) -> tuple[Model, list[list[np.ndarray]]]:
    """The pair model and, per part and question, its out-of-fold calibrated logits.

    trees: boosted trees (scikit-learn, exported to plain arrays), Platt-calibrated (the
    in-sample scores of trees are over-confident) on the parts' out-of-fold scores plus the
    full model's scores of `calibrate_on` (collections the trees never saw, e.g. the bundled
    suite, so that P(relevant) means the same there): the shipped logit is a*score + b and
    P = sigmoid of it, monotone in the trees' score (the ranking is the trees' alone).
    logistic: the L2 logistic regression (its probability is its own calibration)."""
    x, y, w = _stack(parts)
    oof = _raw_scores(parts, kind, FOLDS)
    if kind == "logistic":
        return logistic_model(PAIR_FEATURES, x[:, _pair_cols()], y, l2=L2,
                              sample_weight=w), oof
    model = _trees(x, y, w)
    scores = [np.concatenate([s for p in oof for s in p])]
    ys, ws = [y], [w]
    for rows, weight in calibrate_on or []:
        cx, cy, cw = _stack([(rows, weight)])
        scores.append(model.decision_function(cx))
        ys.append(cy)
        ws.append(cw)
    mean, scale, slope, bias = fit_logistic(np.concatenate(scores)[:, None], np.concatenate(ys),
                                            l2=0.0, sample_weight=np.concatenate(ws))
    a = float(slope[0] / scale[0])
    b = float(bias - a * mean[0])
    trees = Trees.from_sklearn(model)
    trees = replace(trees, value=trees.value * a)
    base = float(model._baseline_prediction.ravel()[0])
    zeros = np.zeros(len(FEATURE_NAMES))
    pair = Model(FEATURE_NAMES, zeros, np.ones(len(FEATURE_NAMES)), zeros, a * base + b,
                 np.zeros(0), np.zeros(0), {"kind": "trees", **TREES, "platt": [a, b]}, trees)
    return pair, [[a * s + b for s in p] for p in oof]


def question_matrix(rows: list[Row], pair: Model, texts: dict[str, str],
                    logits: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The question model's features per question (as CalibratedRelevance.answerable reads
    them); `texts`: paper id -> title + abstract."""
    xs, ys = [], []
    for n, (q, pids, x, _y) in enumerate(rows):
        lg = logits[n] if logits is not None else _pair_logit(pair)(x)
        top = float(lg.max()) if len(x) else -30.0
        ev = QuestionEvidence(q.term_df or {}, q.chunks, [h[3] for h in q.hits[:DEPTH]],
                              [h[2] for h in q.hits[:DEPTH]], q.mean_cosine,
                              texts[pids[int(np.argmax(lg))]] if len(x) else "")
        xs.append(question_features(q.text, top, ev))
        ys.append(0.0 if q.kind == "none" else 1.0)
    x = np.array(xs)
    missing = np.isnan(x)
    if missing.any():  # as at run time: no evidence = the column's mean
        x[missing] = np.take(np.nanmean(x, axis=0), np.nonzero(missing)[1])
    return x, np.array(ys)


def corpus_texts(*collected: Collected) -> dict[str, str]:
    """Paper id -> title + abstract over collections (ids must not clash)."""
    out: dict[str, str] = {}
    for c in collected:
        for pid, title in c.titles.items():
            text = f"{title} {c.abstracts[pid]}"
            assert out.setdefault(pid, text) == text, f"paper id {pid} in two collections"
    return out


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


def measure(rows: list[Row], model: RelevanceModel, texts: dict[str, str], k: int = 5,
            logits: list[np.ndarray] | None = None) -> dict[str, Any]:
    """What the answer path would do with these questions (top k, bars applied); with
    `logits` (out of fold), the pair model's scores are those instead of its own."""
    prec: dict[str, list[float]] = {"single": [], "multi": []}
    cited_n, gold_found, refused_none, none, false_ref, ins = [], [], 0, 0, 0, 0
    ndcg_before, ndcg_after = [], []
    xq, _ = question_matrix(rows, model.pair, texts, logits)
    answer_p = model.question.probability(xq)
    for n, ((q, pids, x, y), p_ans) in enumerate(zip(rows, answer_p, strict=True)):
        p = 1 / (1 + np.exp(-(logits[n] if logits is not None else _pair_logit(model.pair)(x))))
        rank = (_pair_logit(model.ranker)(x) if model.ranker is not None else p)
        order = sorted(range(len(pids)), key=lambda i: (-p[i], i))
        refuse = p_ans < model.refuse_bar
        if q.kind == "none":
            none += 1
            refused_none += refuse
            continue
        full = [h[0] for h in q.hits]
        ndcg_before.append(metrics.ndcg(q.labels, full, 10))
        by_rank = sorted(range(len(pids)), key=lambda i: (-rank[i], i))
        ndcg_after.append(metrics.ndcg(q.labels, [pids[i] for i in by_rank] + full[len(pids):],
                                       10))
        ins += 1
        false_ref += refuse
        if refuse:
            continue
        bar = min(LIST_BAR, model.cite_bar) if asks_for_papers(q.text) else model.cite_bar
        cited = [i for n, i in enumerate(order[:k]) if n == 0 or p[i] >= bar]  # as the stage
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
          use: tuple[str, ...], texts: dict[str, str]
          ) -> tuple[RelevanceModel, dict[str, list[np.ndarray]]]:
    """Fit on the named parts ('scifact' = claims + out-of-scope, 'bundled'): the pair
    model and question model on them, the ranker on SciFact's claims only (so the bundled
    suite stays a held-out check of the order; its scores there only calibrate it). Also
    returns the ranker's out-of-fold logits per part it was fitted on (the CV figures)."""
    rows = {"scifact": sf, "bundled": bu}
    weight = {"scifact": 1.0, "bundled": BUNDLED_WEIGHT}
    names = [n for n in ("scifact", "bundled") if n in use]
    pair, _ = fit_pair([(rows[n], weight[n]) for n in names], "logistic")
    sets = []
    if "scifact" in use:
        xs, ys = question_matrix(sf + oos, pair, texts)
        sets.append((xs, ys))
    if "bundled" in use:
        sets.append(question_matrix(bu, pair, texts))
    question = fit_question(sets)
    ranker, held = None, {}
    if "scifact" in use:
        ranker, oof = fit_pair([(sf, 1.0)], "trees",
                               [(bu, BUNDLED_WEIGHT)] if "bundled" in use else None)
        held = {"scifact": oof[0]}
    meta = {"fitted_on": list(use), "ranker_fitted_on": ["scifact"] if ranker else [],
            "l2": L2, "bundled_weight": BUNDLED_WEIGHT, "max_false_refusal": MAX_FALSE_REFUSAL}
    return RelevanceModel(pair, question, CITE_BAR, refuse_bar(question, sets), DEPTH,
                          embedder, meta, ranker), held


def cv_ndcg(rows: list[Row], logits: list[np.ndarray]) -> float:
    """nDCG@10 of the first stage's list with its top DEPTH re-ordered by `logits`."""
    out = []
    for (q, pids, _x, _y), lg in zip(rows, logits, strict=True):
        if q.kind == "none":
            continue
        order = sorted(range(len(pids)), key=lambda i: (-lg[i], i))
        full = [h[0] for h in q.hits]
        out.append(metrics.ndcg(q.labels, [pids[i] for i in order] + full[len(pids):], 10))
    return round(float(np.mean(out)), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--dry-run", action="store_true", help="measure only, write nothing")
    ap.add_argument("--seed", type=int, default=SEED, help="fold assignment of the CV")
    ap.add_argument("--no-transfer", action="store_true",
                    help="skip the fits that leave a collection out (faster)")
    args = ap.parse_args()
    globals()["SEED"] = args.seed
    data = {n: collect(n) for n in ("scifact", "bundled", "holdout", "scifact-oos")}
    embedder = "all-MiniLM-L6-v2"
    sf, bu, ho, oos = (rows_of(data[n]) for n in ("scifact", "bundled", "holdout",
                                                  "scifact-oos"))
    texts = corpus_texts(*data.values())
    shipped, held = build(sf, bu, oos, embedder, ("scifact", "bundled"), texts)
    assert shipped.ranker is not None
    print(f"refuse_bar {shipped.refuse_bar}  cite_bar {shipped.cite_bar}")
    print("question weights:", dict(zip(QUESTION_FEATURES,
                                        np.round(shipped.question.weights, 3), strict=True)))
    pair_sf = [_pair_logit(shipped.pair)(r[2]) for r in sf]
    print(f"SciFact train nDCG@10 (top {DEPTH} re-ordered): first stage "
          f"{cv_ndcg(sf, [-np.arange(len(r[1])) for r in sf])}; by P(relevant) in-sample "
          f"{cv_ndcg(sf, pair_sf)}, {FOLDS}-fold CV by claim "
          f"{cv_ndcg(sf, _raw_scores([(sf, 1.0), (bu, BUNDLED_WEIGHT)], 'logistic', FOLDS)[0])}"
          f"; by the ranker in-sample "
          f"{cv_ndcg(sf, [_pair_logit(shipped.ranker)(r[2]) for r in sf])}, "
          f"{FOLDS}-fold CV by claim {cv_ndcg(sf, held['scifact'])}")
    print(f"bundled nDCG@10 by the ranker (never fitted on it): "
          f"{cv_ndcg(bu, [_pair_logit(shipped.ranker)(r[2]) for r in bu])}")
    for name, rows in (("scifact", sf), ("scifact-oos", oos), ("bundled", bu),
                       ("holdout", ho)):
        print(f"shipped  -> {name}: {measure(rows, shipped, texts)}")
    if not args.no_transfer:
        only_sf, _ = build(sf, bu, oos, embedder, ("scifact",), texts)
        only_bu, _ = build(sf, bu, oos, embedder, ("bundled",), texts)
        for name, rows in (("bundled", bu), ("holdout", ho)):
            print(f"scifact-only -> {name}: {measure(rows, only_sf, texts)}")
        for name, rows in (("scifact", sf), ("scifact-oos", oos)):
            print(f"bundled-only -> {name}: {measure(rows, only_bu, texts)}")
    if not args.dry_run:
        shipped.save(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
