"""The calibrated relevance stage: which retrieved papers answer a question, and whether any.

For the first stage's top `depth` candidates it computes collection-size-independent
features (rag.relevance.features), turns them into a calibrated P(relevant) per paper with
the shipped logistic pair model, re-orders the candidates for search by the shipped ranker
(boosted trees over the same and a few lexical/feedback features, fitted on SciFact train
for the order alone; by P(relevant) without one), and decides:
- refuse when the question model's P(answerable) is below `refuse_bar`: a logistic model
  over the best pair logit, question terms the collection never uses (count and share),
  BM25 per question term, the candidates' best cosine over the question's cosine to the
  collection's mean chunk vector (Library.mean_vector), and the rarest question term the
  best candidate lacks (rag.relevance.features.question_features);
- otherwise cite the papers of the top k whose P(relevant) reaches `cite_bar` (at least the
  best one; `list_cite_bar` when the question asks for the papers on a topic,
  rag.relevance.intent), and list the rest of the top k as related, not cited.
Model and bars: rag/relevance/data/relevance_model.json, re-fitted by bench/relevance_fit.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.answer.stages import Assessment, FirstStageRelevance, Judged, RelevanceStage
from rag.relevance.calibration import RelevanceModel
from rag.relevance.features import (
    FEATURE_NAMES,
    Candidate,
    QuestionEvidence,
    features,
    question_features,
)
from rag.relevance.intent import asks_for_papers
from rag.relevance.sentences import EmbeddedSentences, SentenceSource

if TYPE_CHECKING:
    from rag.answer.searchable import Searchable
    from rag.answer.vectors import SentenceVectors
    from rag.embedders import Embedder
    from rag.models import SearchHit, SearchResponse
    from rag.relevance.store import CompanionStore
    from rag.settings import Settings

log = logging.getLogger(__name__)


def absent_count(response: SearchResponse) -> int:
    """Question terms no chunk of the collection contains (0 without a keyword index)."""
    return sum(1 for df in (response.term_df or {}).values() if df == 0)


class CalibratedRelevance:
    """`RelevanceStage` over the shipped calibrated model."""

    def __init__(self, model: RelevanceModel, vectors: SentenceVectors, *,
                 sentences: SentenceSource | None = None, cite_bar: float | None = None,
                 refuse_bar: float | None = None, list_cite_bar: float | None = None,
                 mean_vector: Callable[[], np.ndarray | None] | None = None) -> None:
        self.model = model
        self.vectors = vectors
        # The collection's mean chunk vector (None: unknown; the question model then reads
        # no evidence from it).
        self.mean_vector = mean_vector or (lambda: None)
        self.sentences = sentences or EmbeddedSentences(vectors)
        self.cite_bar = model.cite_bar if cite_bar is None else cite_bar
        self.refuse_bar = model.refuse_bar if refuse_bar is None else refuse_bar
        # At most cite_bar: a list question never cites fewer papers than another would.
        self.list_cite_bar = self.cite_bar if list_cite_bar is None else min(list_cite_bar,
                                                                            self.cite_bar)

    def depth(self, k: int) -> int:
        return max(k, self.model.depth)

    def score(self, question: str, hits: Sequence[SearchHit],
              absent: int) -> tuple[np.ndarray, np.ndarray]:
        """(logit, P(relevant)) per hit, in `hits` order (the first `depth` of them)."""
        x = self._features(question, hits, absent)
        if not len(x):
            return np.zeros(0), np.zeros(0)
        pair = self.model.pair.columns(x, FEATURE_NAMES)
        return self.model.pair.logit(pair), self.model.pair.probability(pair)

    def _features(self, question: str, hits: Sequence[SearchHit], absent: int) -> np.ndarray:
        hits = list(hits)[: self.model.depth]
        if not hits:
            return np.zeros((0, len(FEATURE_NAMES)))
        found = self.sentences.sentences(hits)
        qvec = self.vectors.lookup([question])[question]
        empty = np.zeros((0, qvec.shape[0]), dtype=np.float32)
        cands = []
        for rank, h in enumerate(hits, 1):
            have = found.get(h.paper_id)
            cands.append(Candidate(h.paper_id, rank, h.score, h.dense_score, h.bm25_score,
                                   f"{h.title} {h.abstract or h.snippet}",
                                   have.vectors if have else empty,
                                   have.title if have else None,
                                   have.texts if have else (), h.title))
        return features(question, qvec, cands, absent)

    def answerable(self, question: str, response: SearchResponse,
                   logits: np.ndarray) -> float:
        """P(the collection answers the question at all), from the pair logits of its top
        `depth` hits and what the search saw of the collection."""
        hits = response.results[: self.model.depth]
        top = int(np.argmax(logits)) if len(logits) else 0
        mean = self.mean_vector()
        qvec = self.vectors.lookup([question])[question] if mean is not None else None
        ev = QuestionEvidence(
            term_df=response.term_df or {}, chunks=response.chunk_count or 0,
            bm25=[h.bm25_score for h in hits], dense=[h.dense_score for h in hits],
            mean_cosine=float(qvec @ mean) if qvec is not None and mean is not None else None,
            top_text=f"{hits[top].title} {hits[top].abstract or hits[top].snippet}"
            if hits else "")
        model = self.model.question
        x = question_features(question, float(logits.max()) if len(logits) else -30.0, ev)
        x = np.where(np.isnan(x), model.mean, x)  # missing evidence: the fitted mean
        return float(model.probability(x[None, :])[0])

    def rerank(self, question: str, response: SearchResponse, k: int) -> SearchResponse:
        """`response` with its top `depth` papers re-ordered by the model's ranker (by
        P(relevant) without one), P(relevant) set on each as SearchHit.relevance (papers
        below the depth keep their order), cut to `k`."""
        t0 = time.perf_counter()
        head = response.results[: self.model.depth]
        if not head:
            return response
        x = self._features(question, head, absent_count(response))
        pair = self.model.pair.columns(x, FEATURE_NAMES)
        probs = self.model.pair.probability(pair)
        ranker = self.model.ranker
        rank = ranker.logit(ranker.columns(x, FEATURE_NAMES)) if ranker is not None else probs
        order = sorted(range(len(head)), key=lambda i: (-rank[i], i))
        ranked = [head[i].model_copy(update={"relevance": float(probs[i])}) for i in order]
        ranked += response.results[self.model.depth:]
        results = [h.model_copy(update={"rank": n}) for n, h in enumerate(ranked[:k], 1)]
        timings = {**response.timings, "rerank_ms": (time.perf_counter() - t0) * 1000}
        return response.model_copy(update={"results": results, "timings": timings})

    def assess(self, question: str, response: SearchResponse, k: int) -> Assessment:
        hits = response.results[: self.model.depth]
        if not hits:
            return Assessment([], refuse=True, signals={"answerable": 0.0})
        absent = absent_count(response)
        if all(h.relevance is not None for h in hits):  # re-ranked by Library.search
            probs = np.array([float(h.relevance or 0.0) for h in hits])
            clipped = np.clip(probs, 1e-12, 1 - 1e-12)
            logits = np.log(clipped / (1 - clipped))
        else:
            logits, probs = self.score(question, hits, absent)
        p_answer = self.answerable(question, response, logits)
        order = sorted(range(len(hits)), key=lambda i: (-probs[i], i))[:k]
        signals = {"answerable": round(p_answer, 4), "absent": absent,
                   "top_relevance": round(float(probs.max()), 4)}
        if p_answer < self.refuse_bar:
            log.debug("refused %r: %s", question, signals)
            return Assessment([], refuse=True, signals=signals)
        bar = self.list_cite_bar if asks_for_papers(question) else self.cite_bar
        judged = [Judged(hits[i].model_copy(update={"relevance": float(probs[i])}),
                         float(probs[i]), n == 0 or probs[i] >= bar)
                  for n, i in enumerate(order)]
        papers = [j for j in judged if j.cited] + [j for j in judged if not j.cited]
        return Assessment(papers, refuse=False, signals=signals)


def make_relevance_stage(settings: Settings, library: Searchable,
                         vectors: SentenceVectors) -> RelevanceStage:
    """The stage `settings` ask for: the calibrated one when the collection's embedder is
    the one its model was fitted on, else the first-stage fallback (rag.answer.stages)."""
    shared = getattr(library, "reranker", None)
    if callable(shared) and settings.relevance == library.settings.relevance:
        stage = shared()  # the Library's own: one sentence cache, hits re-ranked in search
        if isinstance(stage, CalibratedRelevance):
            return stage
    if settings.relevance.stage == "calibrated":
        model = RelevanceModel.load()
        embedder = getattr(library, "embedder_name", None)
        if embedder == model.embedder:
            return _configured(model, vectors, settings,
                               mean_vector=getattr(library, "mean_vector", None))
        log.info("relevance: embedder %r has no calibrated model (fitted on %r); using the "
                 "first-stage fallback", embedder, model.embedder)
    return FirstStageRelevance(settings)


class Collection(Protocol):
    """What the re-ranker needs of an opened collection (rag.library.Library)."""

    settings: Settings

    @property
    def embedder(self) -> Embedder: ...

    @property
    def embedder_name(self) -> str: ...

    def companion(self, suffix: str) -> CompanionStore: ...

    def mean_vector(self) -> np.ndarray | None: ...


def make_reranker(library: Collection) -> CalibratedRelevance | None:
    """The collection's calibrated stage (None: off, or another embedder), shared by
    `Library.search` (mode rerank) and the answer path: reads the candidates' sentence
    vectors from the `__sentences` companion, embedding at query time only the rest."""
    settings = library.settings
    if settings.relevance.stage != "calibrated":
        return None
    model = RelevanceModel.load()
    if library.embedder_name != model.embedder:
        return None
    from rag.answer.vectors import SentenceVectors
    from rag.relevance.store import SUFFIX, StoredSentences

    vectors = SentenceVectors(library.embedder)
    stored = StoredSentences(lambda: library.companion(SUFFIX), EmbeddedSentences(vectors))
    return _configured(model, vectors, settings, sentences=stored,
                       mean_vector=library.mean_vector)


def _configured(model: RelevanceModel, vectors: SentenceVectors, settings: Settings, *,
                sentences: SentenceSource | None = None,
                mean_vector: Callable[[], np.ndarray | None] | None = None
                ) -> CalibratedRelevance:
    """The calibrated stage with the bars `settings.relevance` sets (unset: the model's)."""
    bars = settings.relevance
    return CalibratedRelevance(model, vectors, sentences=sentences, cite_bar=bars.cite_bar,
                               refuse_bar=bars.refuse_bar, list_cite_bar=bars.list_cite_bar,
                               mean_vector=mean_vector)
