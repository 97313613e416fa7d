"""The learned combiner: standardised features -> logistic score -> calibrated probability.

Fitting lives here too (plain numpy: L2-regularised logistic regression by Newton steps,
isotonic regression by pool-adjacent-violators), so `bench/relevance_fit.py` re-fits with
what the runtime already has and the shipped model is a small JSON file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Model:
    """p = isotonic(sigmoid(w . (x - mean) / scale + b)), clipped to [floor, ceil]."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    iso_x: np.ndarray  # isotonic knots (logistic probabilities, increasing)
    iso_y: np.ndarray  # calibrated probabilities at the knots (non-decreasing)
    meta: dict[str, Any]

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

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
                "meta": self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        iso = data.get("isotonic") or {"x": [], "y": []}
        return cls(tuple(data["names"]), np.array(data["mean"], dtype=float),
                   np.array(data["scale"], dtype=float), np.array(data["weights"], dtype=float),
                   float(data["bias"]), np.array(iso["x"], dtype=float),
                   np.array(iso["y"], dtype=float), dict(data.get("meta", {})))

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

    def to_json(self) -> dict[str, Any]:
        return {"pair": self.pair.to_json(), "question": self.question.to_json(),
                "cite_bar": self.cite_bar, "refuse_bar": self.refuse_bar,
                "depth": self.depth, "embedder": self.embedder, "meta": self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RelevanceModel:
        return cls(Model.from_json(data["pair"]), Model.from_json(data["question"]),
                   float(data["cite_bar"]), float(data["refuse_bar"]), int(data["depth"]),
                   str(data["embedder"]), dict(data.get("meta", {})))

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
