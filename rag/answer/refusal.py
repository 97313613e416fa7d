"""Is anything in the collection relevant? If not, the answer is a refusal and no LLM call.

Signals (all from one search response):
- `top_cosine`: the best dense cosine of any chunk (MiniLM);
- `bm25_per_term`: the best BM25 score among the top papers divided by the number of the
  question's content terms (stemmed, stopwords and question boilerplate removed). BM25
  already weighs matched terms by rarity (idf), and dividing by the question's length makes
  long and short questions comparable: a near-miss question shares only generic words
  ("pretrained", "language model") with the collection, so it scores low per term.
Decision: relevant iff top_cosine + BM25_WEIGHT * bm25_per_term >= THRESHOLD.

Calibration (evals/suites/bundled_qa.jsonl on the bundled 119-paper collection, MiniLM,
default z-score fusion, k=5; 112 in-scope questions, 16 "none" questions):
- top_cosine alone: in-scope min 0.233 (p5 0.372), none max 0.572 (median 0.470); any
  threshold that refuses no in-scope question refuses 0 of the 16 none questions.
- bm25_per_term alone: refuses 10/16 none with no in-scope refusal.
- combined (weight 1.0): in-scope min 1.048, next 1.098, 1.099; none median 0.98, max 1.156.
  THRESHOLD 1.0 refuses 10/16 none questions and 0/112 in-scope questions. The six none
  questions that pass are near-misses (protein structure, sign language video, tokenizer
  vocabulary...) where the llm engine is still told to say the sources do not answer.
The thresholds are tuned for MiniLM cosines and bm25s scores on a collection of this size;
another embedder or a much larger collection shifts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answer.text import content_terms

if TYPE_CHECKING:
    from rag.models import SearchResponse

BM25_WEIGHT = 1.0
THRESHOLD = 1.0
# Without BM25 scores (dense-only retrieval) cosine decides alone; in-scope min was 0.233.
COSINE_ONLY_THRESHOLD = 0.22


@dataclass(frozen=True)
class Relevance:
    """The decision and the signals behind it."""

    relevant: bool
    top_cosine: float | None
    bm25_per_term: float | None
    score: float


def assess(question: str, response: SearchResponse, *, lexical: bool = True) -> Relevance:
    """Combine the best dense cosine with the best BM25 score per question term.

    `lexical=False` means the search ran without BM25 (dense-only fusion).
    """
    hits = response.results
    if not hits:
        return Relevance(False, None, None, 0.0)
    cosine = response.top_cosine
    if cosine is None:
        dense = [h.dense_score for h in hits if h.dense_score is not None]
        cosine = max(dense) if dense else None
    if not lexical:
        score = cosine if cosine is not None else 0.0
        return Relevance(score >= COSINE_ONLY_THRESHOLD, cosine, None, score)
    bm25 = max((h.bm25_score or 0.0 for h in hits), default=0.0)
    per_term = bm25 / max(len(content_terms(question)), 1)
    score = (cosine or 0.0) + BM25_WEIGHT * per_term
    return Relevance(score >= THRESHOLD, cosine, per_term, score)
