"""The learned combiner: standardised features -> logistic score -> calibrated probability.

Fitting lives here too (plain numpy: L2-regularised logistic regression by Newton steps,
isotonic regression by pool-adjacent-violators), so `bench/relevance_fit.py` re-fits with
what the runtime already has and the shipped model is a small JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Trees:
    """Boosted regression trees (exported from scikit-learn's HistGradientBoosting, which
    only the fit needs): score = sum over trees of the value of the leaf each row reaches.
    Arrays are [trees, nodes] (shorter trees padded with leaves): the feature a node tests,
    its threshold (left when x <= threshold; NaN goes left where `nan_left`), its children,
    and whether it is a leaf (`value` is read at leaves)."""

    feature: np.ndarray
    threshold: np.ndarray
    nan_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray

    def score(self, x: np.ndarray) -> np.ndarray:
        """[len(x)] sum of the trees' leaf values; every tree walked at once."""
        n_trees = self.feature.shape[0]
        t = np.arange(n_trees)[:, None]
        rows = np.arange(len(x))[None, :]
        node = np.zeros((n_trees, len(x)), dtype=np.int64)
        for _ in range(self.feature.shape[1]):
            inner = ~self.leaf[t, node]
            if not inner.any():
                break
            v = x[rows, self.feature[t, node]]
            go_left = np.where(np.isnan(v), self.nan_left[t, node], v <= self.threshold[t, node])
            node = np.where(inner, np.where(go_left, self.left[t, node], self.right[t, node]),
                            node)
        return self.value[t, node].sum(axis=0)

    def to_json(self) -> dict[str, list[Any]]:
        return {"feature": self.feature.tolist(), "threshold": self.threshold.tolist(),
                "nan_left": self.nan_left.astype(int).tolist(), "left": self.left.tolist(),
                "right": self.right.tolist(), "value": np.round(self.value, 7).tolist(),
                "leaf": self.leaf.astype(int).tolist()}

    @classmethod
    def from_json(cls, data: dict[str, list[Any]]) -> Trees:
        return cls(np.array(data["feature"], dtype=np.int64),
                   np.array(data["threshold"], dtype=float),
                   np.array(data["nan_left"], dtype=bool),
                   np.array(data["left"], dtype=np.int64),
                   np.array(data["right"], dtype=np.int64),
                   np.array(data["value"], dtype=float), np.array(data["leaf"], dtype=bool))

    @classmethod
    def from_sklearn(cls, model: Any) -> Trees:
        """Export a fitted binary HistGradientBoostingClassifier's trees (fit time only)."""
        trees = [p[0].nodes for p in model._predictors]
        width = max(len(t) for t in trees)

        def pad(key: str, fill: float, dtype: type) -> np.ndarray:
            out: np.ndarray = np.full((len(trees), width), fill, dtype=dtype)
            for i, t in enumerate(trees):
                out[i, : len(t)] = t[key]
            return out
        return cls(pad("feature_idx", 0, np.int64), pad("num_threshold", 0.0, float),
                   pad("missing_go_to_left", 0, bool), pad("left", 0, np.int64),
                   pad("right", 0, np.int64), pad("value", 0.0, float),
                   pad("is_leaf", 1, bool))


@dataclass(frozen=True)
class Model:
    """p = isotonic(sigmoid(s)), s = w . (x - mean) / scale + b [+ trees(x)], in [0, 1].

    With `trees`, the score is the trees' plus the linear part (the fit keeps weights at 0
    and b as the trees' baseline)."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    iso_x: np.ndarray  # isotonic knots (logistic probabilities, increasing)
    iso_y: np.ndarray  # calibrated probabilities at the knots (non-decreasing)
    meta: dict[str, Any]
    trees: Trees | None = None

    def columns(self, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """The columns of x (whose columns are `names`) this model reads, in its order."""
        if tuple(names) == self.names:
            return x
        return x[:, [list(names).index(n) for n in self.names]]

    def logit(self, x: np.ndarray) -> np.ndarray:
        if self.trees is None:
            return ((x - self.mean) / self.scale) @ self.weights + self.bias
        linear = ((np.nan_to_num(x) - self.mean) / self.scale) @ self.weights + self.bias
        return linear + self.trees.score(x)

    def raw(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(x), -30, 30)))

    def probability(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(relevant) per row of x, in [0, 1], non-decreasing in the logit."""
        p = self.raw(x)
        if len(self.iso_x):
            p = np.interp(p, self.iso_x, self.iso_y)
        return np.clip(p, 0.0, 1.0)

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "bias": self.bias, "isotonic": {"x": self.iso_x.tolist(),
                                                "y": self.iso_y.tolist()},
                "meta": self.meta,
                **({"trees": self.trees.to_json()} if self.trees is not None else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        iso = data.get("isotonic") or {"x": [], "y": []}
        return cls(tuple(data["names"]), np.array(data["mean"], dtype=float),
                   np.array(data["scale"], dtype=float), np.array(data["weights"], dtype=float),
                   float(data["bias"]), np.array(iso["x"], dtype=float),
                   np.array(iso["y"], dtype=float), dict(data.get("meta", {})),
                   Trees.from_json(data["trees"]) if data.get("trees") else None)

    @classmethod
    def load(cls, path: Path) -> Model:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0,
                 sample_weight: np.ndarray | None = None, iters: int = 50
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, weights, bias) of an L2-regularised logistic regression (Newton)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    n, d = z.shape
    sw = np.ones(n) if sample_weight is None else sample_weight
    a = np.hstack([z, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -30, 30)))
        grad = a.T @ (sw * (p - y)) + reg * w
        hess = (a * (sw * p * (1 - p))[:, None]).T @ a + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, w[:-1], float(w[-1])


def fit_isotonic(p: np.ndarray, y: np.ndarray, *, sample_weight: np.ndarray | None = None,
                 min_block: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """Knots (x increasing, y non-decreasing) of the isotonic fit of y on p (PAV).

    Blocks hold at least `min_block` weight so a handful of pairs cannot make a step.
    """
    order = np.argsort(p, kind="stable")
    xs, ys = p[order], y[order].astype(float)
    ws = np.ones(len(xs)) if sample_weight is None else sample_weight[order]
    # Start from blocks of min_block weight, then merge violators.
    blocks: list[list[float]] = []  # [weighted y sum, weight, weighted x sum]
    acc = [0.0, 0.0, 0.0]
    for xv, yv, wv in zip(xs, ys, ws, strict=True):
        acc = [acc[0] + wv * yv, acc[1] + wv, acc[2] + wv * xv]
        if acc[1] >= min_block:
            blocks.append(acc)
            acc = [0.0, 0.0, 0.0]
    if acc[1] > 0:
        if blocks:
            blocks[-1] = [blocks[-1][i] + acc[i] for i in range(3)]
        else:
            blocks.append(acc)
    merged: list[list[float]] = []
    for b in blocks:
        merged.append(b)
        while len(merged) > 1 and merged[-2][0] / merged[-2][1] >= merged[-1][0] / merged[-1][1]:
            last = merged.pop()
            merged[-1] = [merged[-1][i] + last[i] for i in range(3)]
    kx = np.array([b[2] / b[1] for b in merged])
    ky = np.array([b[0] / b[1] for b in merged])
    return kx, ky


DATA = Path(__file__).parent / "data" / "relevance_model.json"


@dataclass(frozen=True)
class RelevanceModel:
    """The shipped stage: a pair model (P(paper answers question)) and a question model
    (P(the collection answers the question)), with the bars that turn them into decisions."""

    pair: Model
    question: Model
    cite_bar: float  # a paper is cited when its P(relevant) reaches this
    refuse_bar: float  # refuse when P(answerable) is below this
    depth: int  # first-stage candidates scored (the features' list length)
    embedder: str  # the embedder whose cosines the model was fitted on
    meta: dict[str, Any]
    # Orders the candidates when set (search's re-ranking); `pair` still gives P(relevant)
    # and so every decision (cite, refuse, support). None: ordered by P(relevant).
    ranker: Model | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pair": self.pair.to_json(), "question": self.question.to_json(),
                "cite_bar": self.cite_bar, "refuse_bar": self.refuse_bar,
                "depth": self.depth, "embedder": self.embedder, "meta": self.meta,
                **({"ranker": self.ranker.to_json()} if self.ranker is not None else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RelevanceModel:
        return cls(Model.from_json(data["pair"]), Model.from_json(data["question"]),
                   float(data["cite_bar"]), float(data["refuse_bar"]), int(data["depth"]),
                   str(data["embedder"]), dict(data.get("meta", {})),
                   Model.from_json(data["ranker"]) if data.get("ranker") else None)

    @classmethod
    def load(cls, path: Path = DATA) -> RelevanceModel:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    def save(self, path: Path = DATA) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)


def logistic_model(names: tuple[str, ...], x: np.ndarray, y: np.ndarray, *, l2: float = 1.0,
                   sample_weight: np.ndarray | None = None,
                   meta: dict[str, Any] | None = None) -> Model:
    """A fitted `Model` with no isotonic step (the logistic probability is the calibration)."""
    mean, scale, weights, bias = fit_logistic(x, y, l2=l2, sample_weight=sample_weight)
    return Model(names, mean, scale, weights, bias, np.zeros(0), np.zeros(0), meta or {})
