"""Answer records: citations, per-sentence support, and the final answer.

`Answer.model_dump(mode="json")` is the `paperchat ask --json` / POST /v1/ask / `done` event
shape; the sentences, the retrieved hits and the condensed question stay in the core.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from rag.models import Record, SearchHit, Timings, rounded


class Citation(Record):
    """A source the answer cites, numbered in order of first use."""

    n: int = Field(description="The number of its [n] marker in the answer.")
    paper_id: str
    title: str
    snippet: str
    support: Annotated[float, rounded(4)] | None = Field(
        None, description="How well the citing sentences are supported by the paper (0-1); "
        "null when not scored.")


def _empty(value: str | None) -> bool:
    return not value


class Answer(Record):
    """A finished answer with its citations, flags, usage and timings."""

    question: str
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    refused: bool = False
    engine: str = "extractive"
    degraded: bool = Field(False, description="The LLM failed and the answer was built "
                           "extractively instead.")
    usage: dict[str, int] = Field(default_factory=dict)
    timings: Timings = Field(default_factory=dict)
    unsupported: list[str] = Field(default_factory=list, description="Answer sentences with "
                                   "no citation or weak support (from `sentences`).")
    notice: str | None = Field(None, exclude_if=_empty)
    session_id: str | None = Field(None, exclude_if=_empty)
    # Core only: per-sentence support, the papers retrieved, the condensed follow-up.
    sentences: list[dict[str, Any]] = Field(default_factory=list, exclude=True)
    sources: list[SearchHit] = Field(default_factory=list, exclude=True)
    standalone_question: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _unsupported(self) -> Answer:
        if "unsupported" not in self.model_fields_set:
            self.unsupported = [s["text"] for s in self.sentences if not s["supported"]]
        return self
