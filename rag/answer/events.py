"""The streaming event model shared by the CLI, the server (SSE) and the TUI.

Order for one question: `sources`, `token`..., `citations`, `done`; or `error` at any point
(after which nothing follows). A `reset` (with a `reason`) may come between the tokens: the
text streamed so far is withdrawn and the tokens after it are the answer (the grounding
guard replaced an LLM answer, or a reasoning block turned out to have been streamed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EventType = Literal["sources", "token", "reset", "citations", "done", "error"]


@dataclass
class Event:
    """One step of a streamed answer; `data` is the type's payload."""

    type: EventType
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """`{"type": ..., **data}`, the shape sent over SSE."""
        return {"type": self.type, **self.data}
