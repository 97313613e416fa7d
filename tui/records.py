"""What the chat keeps about one answer, built from the streamed events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AnswerRecord:
    """One assistant turn: its text, its sources and citations, and how it ended."""

    question: str
    text: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)  # retrieved papers
    citations: list[dict[str, Any]] = field(default_factory=list)  # cited, numbered [n]
    unsupported: list[str] = field(default_factory=list)
    engine: str = ""
    notice: str | None = None
    degraded: bool = False  # the LLM failed and the answer was built extractively instead
    usage: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    refused: bool = False
    done: bool = False
    error: str | None = None
    cancelled: bool = False

    def apply(self, event_type: str, data: dict[str, Any]) -> None:
        """Fold one event into the record (tokens are appended by the caller's stream)."""
        if event_type == "sources":
            self.sources = list(data.get("sources") or [])
        elif event_type == "token":
            self.text += str(data.get("text", ""))
        elif event_type == "reset":  # the text so far is withdrawn; its replacement follows
            self.text = ""
        elif event_type == "citations":
            self.citations = list(data.get("citations") or [])
        elif event_type == "done":
            self.done = True
            self.text = str(data.get("answer", self.text))
            self.citations = list(data.get("citations") or self.citations)
            self.unsupported = list(data.get("unsupported") or [])
            self.engine = str(data.get("engine") or "")
            self.notice = data.get("notice")
            self.degraded = bool(data.get("degraded"))
            self.usage = dict(data.get("usage") or {})
            self.timings = dict(data.get("timings") or {})
            self.refused = bool(data.get("refused"))
        elif event_type == "error":
            self.error = str(data.get("message") or "the answer failed")

    @property
    def tokens(self) -> int | None:
        """Total LLM tokens, or None when no model was called (an extractive answer; servers
        from before usage was left empty for those still sent counts)."""
        if not self.usage or (self.engine == "extractive" and not self.degraded):
            return None
        if "total_tokens" in self.usage:
            return int(self.usage["total_tokens"])
        return sum(int(v) for k, v in self.usage.items() if k.endswith("_tokens")) or None

    @property
    def uncited_sources(self) -> list[dict[str, Any]]:
        """Retrieved papers the answer does not cite."""
        cited = {c.get("paper_id") for c in self.citations}
        return [s for s in self.sources if s.get("paper_id") not in cited]

    @classmethod
    def from_message(cls, question: str, content: str, citations: list[dict[str, Any]]
                     ) -> AnswerRecord:
        """A stored assistant turn (resumed session)."""
        return cls(question, content, citations=list(citations), done=True)
