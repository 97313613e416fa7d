"""QA scoring: per-question rows, suite metrics, and a run over the fixture collection."""

from __future__ import annotations

import pytest

from evals.qa import QA_METRICS, aggregate, run_qa, score_question
from evals.suite import Question, load_suite
from rag.answer.models import Answer, Citation
from rag.answer.service import Assistant
from rag.library import Library
from tests.evals.conftest import QA_SUITE


def _q(kind: str = "single", gold: tuple[str, ...] = ("a",), facts: tuple[str, ...] = ()
       ) -> Question:
    return Question("q", "Question?", gold, facts, kind, 1)


def _answer(text: str, cited: list[str], *, refused: bool = False,
            supported: list[bool] | None = None) -> Answer:
    sentences = [{"text": f"s{i}", "citations": [], "support": None, "supported": s}
                 for i, s in enumerate(supported or [True])]
    citations = [Citation(n=i + 1, paper_id=pid, title=pid, snippet="")
                 for i, pid in enumerate(cited)]
    return Answer(question="Question?", answer=text, citations=citations, refused=refused,
                  sentences=sentences)


def test_multi_question_citation_precision_recall_and_retrieval() -> None:
    q = _q("multi", gold=("a", "b", "c"))
    row = score_question(q, ["x", "a", "y", "b"], _answer("t", ["a", "x", "a"]), 12.5)
    assert row["cited"] == ["a", "x"]
    assert row["citation_precision"] == 0.5
    assert row["citation_recall"] == pytest.approx(1 / 3)
    assert row["recall@5"] == pytest.approx(2 / 3) and row["mrr@10"] == 0.5
    assert row["fact_recall"] is None and row["passed"]


def test_facts_are_found_case_and_whitespace_insensitively() -> None:
    q = _q(facts=("Top-1 Accuracy", "87.8%", "missing fact"))
    row = score_question(q, ["a"], _answer("It reaches 87.8% top-1\n accuracy [1].", ["a"]), 1)
    assert row["facts_found"] == ["Top-1 Accuracy", "87.8%"]
    assert row["facts_missing"] == ["missing fact"]
    assert row["fact_recall"] == pytest.approx(2 / 3)
    assert not row["passed"] and row["why"] == ["missing facts: missing fact"]


def test_refusals_and_answers_to_uncovered_questions() -> None:
    refused = score_question(_q(), ["a"], _answer("No.", [], refused=True), 1)
    assert refused["refused"] and refused["why"] == ["refused an answerable question"]
    assert refused["citation_recall"] == 0.0 and refused["citation_precision"] is None
    none_ok = score_question(_q("none", gold=()), [], _answer("No.", [], refused=True), 1)
    assert none_ok["passed"] and none_ok["recall@5"] is None
    none_bad = score_question(_q("none", gold=()), ["a"], _answer("Yes [1].", ["a"]), 1)
    assert not none_bad["passed"]
    wrong = score_question(_q(), ["b"], _answer("t [1].", ["b"]), 1)
    assert wrong["why"] == ["cited no gold paper"]


def test_aggregate_metrics_over_kinds() -> None:
    rows = [
        score_question(_q(facts=("x",)), ["a"], _answer("x [1]", ["a"],
                                                         supported=[True, False]), 10),
        score_question(_q(facts=("x", "y")), ["b", "a"], _answer("no", [], refused=True), 20),
        score_question(_q("none", gold=()), [], _answer("no", [], refused=True), 30),
        score_question(_q("none", gold=()), ["a"], _answer("y [1]", ["a"],
                                                            supported=[True, True]), 40),
    ]
    m = aggregate(rows)
    assert set(m) == set(QA_METRICS)
    assert m["recall@5"] == 1.0 and m["mrr@10"] == 0.75
    assert m["citation_precision"] == 1.0  # only answers that cite count
    assert m["citation_recall"] == 0.5 and m["fact_recall"] == 0.5
    assert m["refusal_accuracy"] == 0.5 and m["false_refusal_rate"] == 0.5
    assert m["unsupported_rate"] == 0.25  # 1 of the 4 sentences of non-refused answers
    assert m["latency_p50_ms"] == 25.0 and m["latency_p95_ms"] == pytest.approx(38.5)
    assert aggregate(rows[2:])["recall@5"] is None
    assert "faithfulness" in aggregate(rows, judged=True)


def test_run_over_fixture_collection(qa_library: Library) -> None:
    assistant = Assistant(qa_library.settings, qa_library)
    result = run_qa(qa_library, assistant, load_suite(QA_SUITE), engine="extractive")
    assert result["engine"] == "extractive" and result["questions"] == 6
    assert result["counts"] == {"single": 4, "multi": 1, "none": 1}
    rows = {r["id"]: r for r in result["per_question"]}
    assert rows["s1"]["retrieved"][0] == "mae" and "mae" in rows["s1"]["cited"]
    assert rows["s1"]["facts_found"] == ["87.8 percent"] and rows["s1"]["passed"]
    assert rows["s2"]["gold"] == ["w2v"]  # resolved from the title
    assert rows["s5"]["refused"] and rows["s5"]["passed"]
    assert "a fact that is not in the abstract" in rows["s6"]["facts_missing"]
    assert not rows["s6"]["passed"]
    assert all(len(set(r["retrieved"])) == len(r["retrieved"]) for r in rows.values())
    m = result["metrics"]
    assert m["recall@5"] == 1.0 and m["refusal_accuracy"] == 1.0
    assert m["fact_recall"] is not None and m["fact_recall"] < 1.0
    assert len(result["recall_curve"]["default"]) == 10
    assert result["titles"]["mae"] == "Masked Autoencoders Are Scalable Vision Learners"
