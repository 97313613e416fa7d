"""Is anything in the collection relevant? If not, the answer is a refusal and no LLM call.

Signals (all from one search response):
- `top_cosine`: the best dense cosine of any chunk (MiniLM);
- `bm25_per_term`: the best BM25 score among the top papers divided by the number of the
  question's content terms (stemmed, stopwords and question boilerplate removed). BM25
  already weighs matched terms by rarity (idf), and dividing by the question's length makes
  long and short questions comparable: a near-miss question shares only generic words
  ("pretrained", "language model") with the collection, so it scores low per term;
- `absent`: the question's content terms that no chunk of the collection contains
  (`SearchResponse.term_df` is 0) and that do not occur inside any word of the retrieved
  papers either (so "pathology" counts as present when a hit says "histopathology"). A term
  the collection never uses is a subject it cannot speak about ("LiDAR", "homomorphic
  encryption", "EEG"); BM25 only gives such a term nothing, while every absent term here
  costs ABSENT_PENALTY. Terms are the keyword index's (rag.analysis.question_terms: words
  of 2+ letters, hyphenated words split, Snowball stems), without question boilerplate.
Decision: relevant iff top_cosine + bm25_per_term - ABSENT_PENALTY * len(absent) >= THRESHOLD;
without term frequencies (a producer with no keyword index) nothing counts as absent and
the old THRESHOLD_WITHOUT_VOCABULARY applies.

Calibration (evals/suites/bundled_qa.jsonl on the bundled 119-paper collection, MiniLM,
default z-score fusion, k=5; 112 in-scope questions, 16 "none" questions):
- top_cosine alone: in-scope min 0.233 (p5 0.372), none max 0.572 (median 0.470); any
  threshold that refuses no in-scope question refuses 0 of the 16 none questions.
- cosine + bm25_per_term (no absent terms): in-scope min 1.048, next 1.098, 1.099; none
  median 0.98, max 1.156. 1.0 refuses 10/16 none questions and 0/112 in-scope questions.
- absent terms: 14 of the 16 none questions have at least one ("sign" language is inside
  "design", the tokenizer question has none), and 23 of the 112 in-scope questions too:
  verbs the abstracts happen not to use ("beat", "came", "wrote"), variants ("neighbour",
  "hide" for "hidden", "pathology" when no hit says "histopathology").
  Penalty 0.1 and threshold 0.9: in-scope min 0.948 (the pathology question), next 0.999
  ("hide"), 1.098; 12/16 none refused, 0/112 in-scope, the same 0.048 margin as before.
  One absent term leaves the bar where it was (1.0), two or more raise it, a question with
  none gets a lower one (0.9). Penalties 0.15-0.2 (threshold lowered to keep the margin)
  catch the same 12; the four left pass with one absent term or none.
  Held-out check (evals/suites/refusal_holdout.jsonl, 32 answerable and 30 none questions
  written before this calibration): 22/30 none refused (19 before), 1/32 answerable
  refused (the same one as before: "taught arithmetic", base score 0.80).
The thresholds are tuned for MiniLM cosines and BM25 scores (see BM25_WEIGHT) on a
collection of this size; another embedder or a much larger collection shifts them (a larger
collection uses more words, so fewer terms are absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.analysis import content_terms, question_terms

__all__ = ["Relevance", "absent_terms", "assess", "content_terms", "question_terms"]

if TYPE_CHECKING:
    from rag.models import SearchResponse

# The keyword index moved from bm25s (k1 1.5) to tantivy (k1 1.2), which scores the same
# matches ~1.11x higher (median over the 190 questions of both suites, p10-p90 1.08-1.14);
# 0.9 puts the sum back on the calibrated scale: the same decisions as with bm25s and
# weight 1.0 (12/16 none refused, 0/112 in-scope; held out 22/30, 1/32), in-scope min
# 0.950 (was 0.948).
BM25_WEIGHT = 0.9
ABSENT_PENALTY = 0.1
THRESHOLD = 0.9
THRESHOLD_WITHOUT_VOCABULARY = 1.0  # the calibration before absent terms (10/16, 0/112)
# Without BM25 scores (dense-only retrieval) cosine decides alone; in-scope min was 0.233.
COSINE_ONLY_THRESHOLD = 0.22


@dataclass(frozen=True)
class Relevance:
    """The decision and the signals behind it."""

    relevant: bool
    top_cosine: float | None
    bm25_per_term: float | None
    score: float
    absent: tuple[str, ...] = ()


def absent_terms(question: str, response: SearchResponse) -> tuple[str, ...]:
    """Question terms the collection never uses and no retrieved paper contains in a word."""
    df = response.term_df
    if not df:
        return ()
    missing = [t for t in question_terms(question) if df.get(t, 1) == 0]
    if not missing:
        return ()
    text = " ".join(f"{h.title} {h.abstract or h.snippet}" for h in response.results).lower()
    return tuple(t for t in missing if t not in text)


def assess(question: str, response: SearchResponse, *, lexical: bool = True) -> Relevance:
    """Combine the best dense cosine, the best BM25 score per question term and the terms
    the collection never uses.

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
    absent = absent_terms(question, response)
    score = (cosine or 0.0) + BM25_WEIGHT * per_term - ABSENT_PENALTY * len(absent)
    threshold = THRESHOLD if response.term_df else THRESHOLD_WITHOUT_VOCABULARY
    return Relevance(score >= threshold, cosine, per_term, score, absent)
