"""The default hybrid ranking is at least as good as either component on our eval set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.library import Library

pytestmark = [pytest.mark.real_model, pytest.mark.slow]  # real MiniLM over the bundled suite
SUITE = Path(__file__).resolve().parents[2] / "evals" / "suites" / "bundled_qa.jsonl"


def scores(library: Library, mode: str) -> tuple[float, float]:
    rows = [json.loads(line) for line in SUITE.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["kind"] != "none"]
    recall = mrr = 0.0
    for row in rows:
        ids = [h.paper_id for h in library.search(row["question"], 10, mode=mode).results]
        gold = set(row["gold"])
        recall += len(gold & set(ids[:5])) / len(gold)
        mrr += next((1 / (i + 1) for i, pid in enumerate(ids) if pid in gold), 0.0)
    return recall / len(rows), mrr / len(rows)


def test_default_fusion_does_not_lose_to_either_component(minilm_library: Library) -> None:
    default, bm25, dense = (scores(minilm_library, m) for m in ("default", "bm25", "dense"))
    assert len(SUITE.read_text().splitlines()) >= 40
    for i, name in enumerate(("recall@5", "mrr@10")):
        assert default[i] >= max(bm25[i], dense[i]) - 1e-9, (name, default, bm25, dense)
    assert default[0] >= 0.9 and default[1] >= 0.9  # measured .954 / .992
