"""Fusing dense and BM25 paper scores.

Both fusions work on paper-level scores (best chunk per paper). `zscore` standardises each
component over its own candidate list and mixes them linearly; a paper missing from one
list gets that list's minimum z (it was not even a candidate there). `rrf` is
reciprocal-rank fusion. The default was chosen by measurement (BENCHMARKS.md, Retrieval).
"""

from __future__ import annotations

import math


def zscores(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    values = list(scores.values())
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / len(values)
    std = math.sqrt(var) or 1.0
    return {k: (v - mean) / std for k, v in scores.items()}


def zscore_fusion(dense: dict[str, float], bm25: dict[str, float],
                  dense_weight: float) -> dict[str, float]:
    zd, zb = zscores(dense), zscores(bm25)
    floor_d = min(zd.values(), default=0.0)
    floor_b = min(zb.values(), default=0.0)
    w = dense_weight if zb else 1.0  # no keyword match at all: dense decides alone
    if not zd:
        w = 0.0
    return {pid: w * zd.get(pid, floor_d) + (1.0 - w) * zb.get(pid, floor_b)
            for pid in set(zd) | set(zb)}


def rrf_fusion(dense: dict[str, float], bm25: dict[str, float], k: int = 60
               ) -> dict[str, float]:
    fused: dict[str, float] = {}
    for scores in (dense, bm25):
        ranked = sorted(scores, key=lambda pid: -scores[pid])
        for rank, pid in enumerate(ranked, start=1):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + rank)
    return fused
