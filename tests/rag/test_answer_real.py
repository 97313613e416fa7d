"""Checks with the real MiniLM model on the bundled collection (slower; marked real_model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer.citations import score_support
from rag.answer.refusal import assess
from rag.answer.service import Assistant
from rag.answer.vectors import SentenceVectors
from rag.library import Library
from rag.models import SearchHit

pytestmark = [pytest.mark.real_model, pytest.mark.slow]  # embeds the bundled collection with MiniLM

SUITE = Path(__file__).parents[2] / "evals" / "suites" / "bundled_qa.jsonl"
HOLDOUT = SUITE.with_name("refusal_holdout.jsonl")


def _suite(path: Path = SUITE) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _refusals(library: Library, suite: Path) -> tuple[list[str], int, int]:
    """(answerable questions refused, none questions refused, none questions)."""
    k = library.settings.answer.k
    wrongly_refused, refused_none, n_none = [], 0, 0
    for q in _suite(suite):
        relevant = assess(q["question"], library.search(q["question"], k)).relevant
        if q["kind"] == "none":
            n_none += 1
            refused_none += not relevant
        elif not relevant:
            wrongly_refused.append(q["id"])
    return wrongly_refused, refused_none, n_none


def test_refusal_separates_in_scope_from_none_questions(minilm_library: Library) -> None:
    """Calibration recorded in rag/answer/refusal.py: 0/112 in-scope refused, 12/16 none."""
    wrongly_refused, refused_none, n_none = _refusals(minilm_library, SUITE)
    assert wrongly_refused == []
    assert n_none == 16 and refused_none >= 11


def test_refusal_on_held_out_questions(minilm_library: Library) -> None:
    """Questions written before the calibration (BENCHMARKS.md): 22/30 none refused and one
    answerable question (h030, also refused before absent terms counted)."""
    wrongly_refused, refused_none, n_none = _refusals(minilm_library, HOLDOUT)
    assert wrongly_refused in ([], ["h030"])
    assert n_none == 30 and refused_none >= 20


def test_support_scores_with_minilm(minilm_library: Library) -> None:
    abstract = ("This hypothesis has been tested with the help of the MNIST, CIFAR-10, and "
                "CIFAR-100 image classification benchmarks. The experiments have confirmed "
                "that results equivalent to conventional training can be reached. The "
                "computing expense can be reduced to a tenth or less.")
    hit = SearchHit(rank=1, paper_id="subset",
                    title="Efficient Neural Network Training via Subset Pretraining", score=1.0,
                    snippet=abstract[:80], abstract=abstract)
    answer = ("The computing expense can be reduced to a tenth or less [1]. Experiments show "
              "subset training matches the results of conventional training [1]. Bananas are "
              "rich in potassium [1].")
    vectors = SentenceVectors(minilm_library.embedder)
    sentences, citations = score_support(answer, [hit], vectors, threshold=0.5)
    copied, paraphrase, off_topic = sentences
    assert copied["support"] == pytest.approx(1.0, abs=1e-4) and copied["supported"]
    assert 0.55 < paraphrase["support"] < 0.95 and paraphrase["supported"]
    assert off_topic["support"] < 0.3 and not off_topic["supported"]
    assert citations[0].support == pytest.approx(1.0, abs=1e-4)


def test_extractive_answers_quote_the_facts(minilm_library: Library) -> None:
    assistant = Assistant(minilm_library.settings, minilm_library)
    singles = [q for q in _suite() if q["kind"] == "single" and q["facts"]][:30]
    quoted = 0
    for q in singles:
        answer = assistant.ask(q["question"], engine="extractive")
        assert not answer.refused and not answer.unsupported
        assert any(c.paper_id in q["gold"] for c in answer.citations), q["id"]
        quoted += all(f.lower() in answer.answer.lower() for f in q["facts"])
    assert quoted >= 25  # 28/30 measured


def test_extractive_support_is_relevance_to_the_question(minilm_library: Library) -> None:
    """A quoted sentence's support says whether its paper answers the question, not that it
    is copied from the paper (which used to score 1.00 whatever the question)."""
    abstract = ("The computing expense can be reduced to a tenth or less. Bananas are rich "
                "in potassium.")
    hit = SearchHit(rank=1, paper_id="subset",
                    title="Efficient Neural Network Training via Subset Pretraining", score=1.0,
                    snippet=abstract[:80], abstract=abstract)
    answer = "The computing expense can be reduced to a tenth or less [1]. Bananas are rich " \
             "in potassium [1]."
    vectors = SentenceVectors(minilm_library.embedder)
    question = "How much can the computing expense of training be reduced?"
    # Without a calibrated relevance: the sentence's cosine to the question.
    sentences, _ = score_support(answer, [hit], vectors, threshold=0.5, question=question,
                                 engine="extractive")
    on_point, off_topic = sentences
    assert on_point["supported"] and 0.5 <= on_point["support"] < 0.99
    assert not off_topic["supported"] and off_topic["support"] < 0.3
    # With the relevance stage's P(relevant) for the paper: the larger of the two.
    for relevance in (0.93, 0.12):
        rated = hit.model_copy(update={"relevance": relevance})
        scored, citations = score_support(answer, [rated], vectors, threshold=0.5,
                                          question=question, engine="extractive")
        assert scored[0]["support"] == max(relevance, on_point["support"])
        assert scored[1]["support"] == relevance
        assert scored[1]["supported"] == (relevance >= 0.5)
        assert citations[0].support == max(s["support"] for s in scored)
    # The same copied sentences as an LLM answer: both are in the paper (support 1.0).
    llm, _ = score_support(answer, [hit], vectors, threshold=0.5)
    assert all(s["support"] == pytest.approx(1.0, abs=1e-4) for s in llm)


def test_calibrated_stage_on_the_bundled_suite(minilm_library: Library) -> None:
    """The shipped relevance model on the bundled suite (BENCHMARKS.md, issue 11): cites the
    answering paper alone on single-paper questions, refuses out-of-scope ones."""
    from rag.relevance.calibration import RelevanceModel
    from rag.relevance.stage import CalibratedRelevance

    stage = CalibratedRelevance(RelevanceModel.load(), SentenceVectors(minilm_library.embedder),
                                mean_vector=minilm_library.mean_vector)
    precision, wrongly_refused, refused_none = [], [], 0
    for q in _suite():
        verdict = stage.assess(q["question"], minilm_library.search(q["question"],
                                                                    stage.depth(5)), 5)
        if q["kind"] == "none":
            refused_none += verdict.refuse
        elif verdict.refuse:
            wrongly_refused.append(q["id"])
        elif q["kind"] == "single":
            cited = [h.paper_id for h in verdict.citable]
            precision.append(sum(p in q["gold"] for p in cited) / len(cited))
    assert len(wrongly_refused) <= 2  # 1/112 measured (q094); the target is <= 3 %
    assert refused_none >= 14  # 15/16 measured
    assert sum(precision) / len(precision) >= 0.95  # 0.989 measured
