"""Answer records: citations, per-sentence support, and the final answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.models import SearchHit


@dataclass
class Citation:
    """A source the answer cites, numbered in order of first use."""

    n: int
    paper_id: str
    title: str
    snippet: str
    support: float | None = None

    def to_json(self) -> dict[str, Any]:
        support = None if self.support is None else round(self.support, 4)
        return {"n": self.n, "paper_id": self.paper_id, "title": self.title,
                "snippet": self.snippet, "support": support}


@dataclass
class Answer:
    """A finished answer with its citations, flags, usage and timings."""

    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    engine: str = "extractive"
    degraded: bool = False
    usage: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    sentences: list[dict[str, Any]] = field(default_factory=list)
    sources: list[SearchHit] = field(default_factory=list)
    notice: str | None = None
    standalone_question: str | None = None
    session_id: str | None = None

    @property
    def unsupported(self) -> list[str]:
        """Answer sentences with no citation or weak support."""
        return [s["text"] for s in self.sentences if not s["supported"]]

    def to_json(self) -> dict[str, Any]:
        """The `--json` / server / `done` event shape."""
        out: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "citations": [c.to_json() for c in self.citations],
            "refused": self.refused,
            "engine": self.engine,
            "degraded": self.degraded,
            "usage": dict(self.usage),
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "unsupported": self.unsupported,
        }
        if self.notice:
            out["notice"] = self.notice
        if self.session_id:
            out["session_id"] = self.session_id
        return out
