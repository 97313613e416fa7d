"""The streaming events shared by the CLI, the server (SSE) and the TUI.

Order for one question: `sources`, `token`..., `citations`, `done`; or `error` at any point
(after which nothing follows). A `reset` (with a `reason`) may come between the tokens: the
text streamed so far is withdrawn and the tokens after it are the answer (the grounding
guard replaced an LLM answer, or a reasoning block turned out to have been streamed).

Each event is a typed model whose `model_dump(mode="json")` is `{"type": ..., **payload}`,
the JSON sent over SSE; `parse_event` (or `EVENT.validate_json`) reads one back.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from rag.answer.models import Answer, Citation
from rag.models import Record, Score, SearchHit

EventType = Literal["sources", "token", "reset", "citations", "done", "error"]


class _Event(Record):
    @property
    def data(self) -> dict[str, Any]:
        """The payload as the wire carries it, without `type`."""
        return self.model_dump(mode="json", exclude={"type"})


class Source(Record):
    """A retrieved paper as the `sources` event lists it, numbered in rank order."""

    n: int
    paper_id: str
    title: str
    snippet: str
    score: Score

    @classmethod
    def of(cls, n: int, hit: SearchHit) -> Source:
        return cls(n=n, paper_id=hit.paper_id, title=hit.title, snippet=hit.snippet,
                   score=hit.score)


class SourcesEvent(_Event):
    """The papers given to the answer engine (empty when the question is refused)."""

    type: Literal["sources"] = "sources"
    sources: list[Source]


class TokenEvent(_Event):
    """A piece of the answer text, markers already renumbered."""

    type: Literal["token"] = "token"
    text: str


class ResetEvent(_Event):
    """Discard the answer text streamed so far; the replacement's tokens follow."""

    type: Literal["reset"] = "reset"
    reason: str


class CitationsEvent(_Event):
    """The cited papers, numbered as the answer's [n] markers."""

    type: Literal["citations"] = "citations"
    citations: list[Citation]


class DoneEvent(Answer, _Event):
    """The finished answer: the same fields as `Answer`, plus `type`."""

    type: Literal["done"] = "done"
    question: str = ""  # a client knows what it asked; a server may leave it out

    @classmethod
    def of(cls, answer: Answer) -> DoneEvent:
        return cls(**dict(answer))


class ErrorEvent(_Event):
    """The answer failed; nothing follows."""

    type: Literal["error"] = "error"
    code: str = Field(description="Stable machine-readable tag, e.g. llm_unavailable.")
    message: str


Event = Annotated[
    SourcesEvent | TokenEvent | ResetEvent | CitationsEvent | DoneEvent | ErrorEvent,
    Field(discriminator="type")]
EVENT: TypeAdapter[Event] = TypeAdapter(Event)  # EVENT.validate_json(sse_data) reads one


def parse_event(data: Any) -> Event:
    """An event from its JSON object (`{"type": ..., ...}`); ValidationError if malformed."""
    return EVENT.validate_python(data)
