"""The relevance stage between retrieval and answering: which retrieved papers may be cited.

The pipeline fetches `stage.depth(k)` first-stage candidates, then asks `stage.assess` which
of them answer the (standalone) question: their order, a calibrated relevance where the
stage has one, whether each may be cited, and whether to refuse. The engines see only the
papers that may be cited; the others are listed as related sources.

`FirstStageRelevance` is the default until a calibrated stage replaces it: the refusal
decision of `rag.answer.refusal` on the first-stage response, every top-k paper citable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rag.answer import refusal

if TYPE_CHECKING:
    from rag.models import SearchHit, SearchResponse
    from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Judged:
    """One candidate paper as the relevance stage sees it."""

    hit: SearchHit
    relevance: float | None = None  # calibrated P(relevant) in [0, 1]; None: not calibrated
    cited: bool = True  # the answer may cite it; False: shown as related, not cited


@dataclass(frozen=True)
class Assessment:
    """The stage's verdict on one question's candidates."""

    papers: list[Judged]  # citable first, then related; each in answer order; at most k
    refuse: bool
    signals: dict[str, Any] = field(default_factory=dict)  # for logs and evals

    @property
    def citable(self) -> list[SearchHit]:
        """Papers the engines answer from and may cite, in order."""
        return [j.hit for j in self.papers if j.cited]

    @property
    def related(self) -> list[SearchHit]:
        """Retrieved papers shown alongside, never cited."""
        return [j.hit for j in self.papers if not j.cited]


class RelevanceStage(Protocol):
    """Decides which first-stage candidates answer a question (CPU-bound, synchronous)."""

    def depth(self, k: int) -> int:
        """First-stage candidates to fetch when the answer may use `k` papers."""
        ...

    def assess(self, question: str, response: SearchResponse, k: int) -> Assessment:
        """Judge `response.results` for `question`; at most `k` papers in the verdict."""
        ...


class FirstStageRelevance:
    """Today's behaviour: the first-stage top k, refused by `refusal.assess`."""

    def __init__(self, settings: Settings) -> None:
        self.lexical = settings.retrieval.fusion != "dense"

    def depth(self, k: int) -> int:
        return k

    def assess(self, question: str, response: SearchResponse, k: int) -> Assessment:
        verdict = refusal.assess(question, response, lexical=self.lexical)
        log.debug("relevance of %r: %s", question, verdict)
        papers = [] if not verdict.relevant else [Judged(h) for h in response.results[:k]]
        return Assessment(papers, refuse=not verdict.relevant, signals={
            "score": verdict.score, "top_cosine": verdict.top_cosine,
            "bm25_per_term": verdict.bm25_per_term, "absent": list(verdict.absent)})
