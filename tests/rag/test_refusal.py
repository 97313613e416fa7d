"""The refusal gate: absent question terms and the thresholds (the keyword index's term
counts are tested in test_keyword.py).

The MiniLM calibration on the bundled suite is checked in test_answer_real.py; here the
decision arithmetic is pinned on hand-built responses, and the signal end to end on the
bundled collection with the fake embedder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.analysis import query_terms
from rag.answer import refusal
from rag.library import Library
from rag.models import SearchHit, SearchResponse
from rag.settings import Settings

HIST = SearchHit(rank=1, paper_id="hist",
                 title="From CNNs to vision transformers in histopathology", score=1.0,
                 snippet="snippet", abstract="We compare CNNs and vision transformers on whole "
                 "slide images of breast cancer.", dense_score=0.5, bm25_score=4.0)


def _response(question: str, term_df: dict[str, int] | None, *, cosine: float = 0.5,
              bm25: float = 4.0) -> SearchResponse:
    hit = SearchHit(rank=1, paper_id="hist", title=HIST.title, score=1.0, snippet=HIST.snippet,
                    abstract=HIST.abstract, dense_score=cosine, bm25_score=bm25)
    return SearchResponse(query=question, results=[hit], top_cosine=cosine, term_df=term_df)


def _df(question: str, absent: set[str]) -> dict[str, int]:
    """What the keyword index reports: every query term present except `absent`."""
    return {t: 0 if t in absent else 3 for t in query_terms(question)}


def test_question_terms_split_stem_and_drop_stopwords_and_numbers() -> None:
    terms = refusal.question_terms("Which papers use self-supervised LiDAR pre-training in 2024?")
    assert terms == ["self", "supervis", "lidar", "pre", "train"]
    # Every term is one the keyword index reports a frequency for.
    assert set(terms) <= set(query_terms("Which papers use self-supervised LiDAR "
                                         "pre-training in 2024?"))


def test_absent_terms_cost_the_penalty_each() -> None:
    q = "How do vision transformers classify LiDAR point clouds?"
    present = refusal.assess(q, _response(q, _df(q, set())))
    absent = refusal.assess(q, _response(q, _df(q, {"lidar", "cloud"})))
    assert present.absent == () and absent.absent == ("lidar", "cloud")
    assert absent.score == pytest.approx(present.score - 2 * refusal.ABSENT_PENALTY)
    assert present.bm25_per_term == absent.bm25_per_term


def test_a_term_inside_a_retrieved_word_is_not_absent() -> None:
    # "pathology" is in no chunk as a word of its own, but a hit says "histopathology".
    q = "Which vision transformers work on pathology slides?"
    rel = refusal.assess(q, _response(q, _df(q, {"patholog"})))
    assert rel.absent == ()


def test_terms_without_a_frequency_are_not_counted_absent() -> None:
    q = "How do vision transformers classify LiDAR point clouds?"
    rel = refusal.assess(q, _response(q, {"vision": 4}))  # "lidar" unknown, not 0
    assert rel.absent == ()


def test_thresholds_with_and_without_term_frequencies() -> None:
    q = "How do vision transformers classify satellite images?"
    # cosine + weighted bm25 per term = 0.95: over THRESHOLD, under the old threshold.
    n = len(refusal.content_terms(q)) / refusal.BM25_WEIGHT
    kwargs = {"cosine": 0.5, "bm25": 0.45 * n}
    with_df = refusal.assess(q, _response(q, _df(q, set()), **kwargs))
    without = refusal.assess(q, _response(q, None, **kwargs))
    assert with_df.score == pytest.approx(0.95) == without.score
    assert with_df.relevant and not without.relevant
    # One absent term brings the bar back to the old threshold, two raise it.
    one = refusal.assess(q, _response(q, _df(q, {"classifi"}), **kwargs))
    assert one.absent == ("classifi",) and not one.relevant
    high = {"cosine": 0.6, "bm25": 0.45 * n}  # 1.05
    assert refusal.assess(q, _response(q, _df(q, {"classifi"}), **high)).relevant
    assert not refusal.assess(q, _response(q, _df(q, {"classifi", "satellit"}), **high)).relevant


def test_dense_only_search_ignores_term_frequencies() -> None:
    q = "How do vision transformers classify LiDAR point clouds?"
    rel = refusal.assess(q, _response(q, _df(q, {"lidar", "cloud"}), cosine=0.3),
                         lexical=False)
    assert rel.relevant and rel.absent == () and rel.score == pytest.approx(0.3)


def test_no_hits_is_a_refusal() -> None:
    rel = refusal.assess("anything", SearchResponse(query="anything", results=[], term_df={}))
    assert not rel.relevant and rel.score == 0.0


# -- end to end on the bundled collection (fake embedder) ---------------------------------
@pytest.fixture
def bundled(bundled_fake_home: Path) -> Library:
    return Library(Settings(home=bundled_fake_home, embed={"provider": "fake"}))  # type: ignore[arg-type]


@pytest.mark.parametrize("question, absent", [
    ("Are there transformers pretrained on EEG recordings for brain-computer interfaces?",
     ("eeg", "interfac")),
    ("Find papers on homomorphic encryption for private inference with pretrained "
     "transformers.", ("homomorph", "encrypt")),
    ("What does Belgian tax law say about capital gains on shares?", ("belgian", "capit")),
])
def test_questions_whose_key_terms_the_collection_never_uses_are_refused(
        bundled: Library, question: str, absent: tuple[str, ...]) -> None:
    response = bundled.search(question, 5)
    assert response.term_df is not None
    rel = refusal.assess(question, response)
    assert rel.absent == absent and not rel.relevant


@pytest.mark.parametrize("question", [
    "Which paper detects Sybil attacks?",  # "sybil": one paper of 119
    "What Dice score did the gynecologic brachytherapy model reach for the CTV?",
    "Which dataset of horses tests out-of-domain pose estimation?",
])
def test_rare_but_present_terms_are_answered(bundled: Library, question: str) -> None:
    response = bundled.search(question, 5)
    assert response.term_df and all(response.term_df[t] > 0
                                    for t in refusal.question_terms(question))
    rel = refusal.assess(question, response)
    assert rel.absent == () and rel.relevant
