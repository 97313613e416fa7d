"""Reports render every failing question safely in Markdown and HTML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from evals.qa import aggregate, score_question
from evals.report import default_out_dir, write_reports
from evals.suite import Question
from rag.answer.models import Answer, Citation


def _result() -> dict[str, Any]:
    q = Question("x1", "Is <script>alert(1)</script> | a pipe ok?", ("a",), ("fact",),
                 "single", 1)
    answer = Answer(question=q.question, answer="An <b>answer</b> [1].",
                    citations=[Citation(n=1, paper_id="b", title="B", snippet="")])
    row = score_question(q, ["b", "a"], answer, 5.0)
    rows = [row]
    return {"kind": "qa", "suite": "s.jsonl", "questions": 1, "counts": {"single": 1},
            "collection": "papers", "papers": 2, "engine": "extractive", "embedder": "fake",
            "judge": False, "metrics": aggregate(rows), "by_kind": {"single": aggregate(rows)},
            "recall_curve": {"default": [0.0, 1.0]}, "latencies_ms": [5.0],
            "per_question": rows, "titles": {"a": "Paper A", "b": "Paper B"}}


def test_failing_question_listed_and_escaped(tmp_path: Path) -> None:
    paths = write_reports(_result(), tmp_path / "out")
    html = paths["html"].read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    assert "An &lt;b&gt;answer&lt;/b&gt;" in html
    md = paths["markdown"].read_text()
    assert "x1 (single): Is <script>" in md
    assert "why: cited no gold paper; missing facts: fact" in md
    assert "retrieved: 1. Paper B (b); 2. Paper A (a)" in md and "cited: Paper B (b)" in md
    table = [ln for ln in md.splitlines() if ln.startswith("| fact_recall")]
    assert table == ["| fact_recall | 0.000 | 0.000 |"]
    for png in ("recall_at_k.png", "latency.png", "by_kind.png"):
        assert (tmp_path / "out" / png).read_bytes().startswith(b"\x89PNG")
        assert f"]({png})" in md


def test_default_out_dirs_do_not_collide(tmp_path: Path) -> None:
    first = default_out_dir("qa", tmp_path)
    first.mkdir(parents=True)
    second = default_out_dir("qa", tmp_path)
    assert first.parent == second.parent == tmp_path / "reports"
    assert second != first and second.name.startswith("qa-")


def test_reports_without_matplotlib_say_how_to_get_figures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the evals extra is missing
    paths = write_reports(_result(), tmp_path / "out")
    md = paths["markdown"].read_text()
    assert "no figure without matplotlib; pip install -e '.[evals]'" in md
    assert not list((tmp_path / "out").glob("*.png")) and ".png" not in md
    assert "<img" not in paths["html"].read_text()
