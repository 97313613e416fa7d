"""An answer as OpenAI chat-completion objects: whole (`completion`) or as chunks (`Chunks`).

The content is the answer text with its [n] markers, then a "Sources:" list, cut by the
request's `max_tokens`/`stop` (server/cutoff.py). `citations` lists the papers whose marker
is in the content sent. `usage` counts the tokens (cl100k_base) of the messages the client
sent and of the content it received, the same way for both engines; what the engine itself
spent is `paperchat.usage`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sse_starlette import ServerSentEvent

from rag.answer.events import DoneEvent, ErrorEvent, Event, ResetEvent, TokenEvent
from rag.answer.models import Answer
from rag.settings import Settings
from rag.tokens import count_tokens
from server.checks import public_answer
from server.cutoff import Cutoff
from server.errors import describe_event, openai_error

MODEL_ID = "paperchat"
_SOURCES = "\n\nSources:\n"
_SOURCE_LINE = re.compile(r"\[(\d+)\] (.+) \(([^()\s]+)\)")
_MARKER = re.compile(r"\[(\d+)\]")
WITHDRAWN = "\n\n---\n*Withdrawn: {reason}*\n\n"


@dataclass(frozen=True)
class Options:
    """What the request asks of the reply."""

    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    include_usage: bool = False
    prompt_tokens: int = 0  # of the messages as sent


def sources_text(citations: list[dict[str, Any]]) -> str:
    """The "Sources:" list appended to the reply text (empty when nothing is cited)."""
    if not citations:
        return ""
    lines = [f"[{c['n']}] {c['title']} ({c['paper_id']})" for c in citations]
    return _SOURCES + "\n".join(lines)


def split_sources(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Undo `sources_text`: (answer text, citations) of a reply this server wrote."""
    body, marker, tail = text.rpartition(_SOURCES)
    if not marker:
        return text, []
    found = [_SOURCE_LINE.fullmatch(line) for line in tail.split("\n")]
    if not all(found):
        return text, []  # not our list: keep the text as it is
    return body, [{"n": int(m[1]), "title": m[2], "paper_id": m[3]} for m in found if m]


def messages_tokens(messages: list[dict[str, str]]) -> int:
    """Prompt tokens of chat messages, counted as OpenAI's cookbook does for its models."""
    return sum(4 + count_tokens(m["content"]) for m in messages) + 2


_META = {"engine", "refused", "degraded", "notice", "timings", "unsupported", "usage"}


def _meta(answer: Answer) -> dict[str, Any]:
    return answer.model_dump(mode="json", include=_META)


def _citations(answer: Answer) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in answer.citations]


def _cited(citations: list[dict[str, Any]], content: str) -> list[dict[str, Any]]:
    """The citations whose [n] marker is in the content the client got."""
    shown = {int(n) for n in _MARKER.findall(content)}
    return [c for c in citations if c["n"] in shown]


def _usage(options: Options, content: str) -> dict[str, int]:
    completion = count_tokens(content)
    return {"prompt_tokens": options.prompt_tokens, "completion_tokens": completion,
            "total_tokens": options.prompt_tokens + completion}


def completion(answer: Answer, options: Options) -> dict[str, Any]:
    """A chat.completion object from an answer."""
    citations = _citations(answer)
    cutoff = Cutoff(options.max_tokens, options.stop)
    content = cutoff.feed(answer.answer + sources_text(citations)) + cutoff.close()
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
        "created": int(time.time()), "model": MODEL_ID,
        "choices": [{"index": 0, "finish_reason": cutoff.finish_reason or "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": _usage(options, content),
        "citations": _cited(citations, content), "paperchat": _meta(answer),
    }


class Chunks:
    """Turns answer events into chat.completion.chunk server-sent events."""

    def __init__(self, settings: Settings, options: Options) -> None:
        self.settings, self.options = settings, options
        self.cutoff = Cutoff(options.max_tokens, options.stop)
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(self, delta: dict[str, Any], finish: str | None = None,
              **extra: Any) -> ServerSentEvent:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}] \
            if delta or finish else []
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": MODEL_ID, "choices": choices, **extra}
        if self.options.include_usage:
            body.setdefault("usage", None)  # as OpenAI: null on all but the last chunk
        return ServerSentEvent(data=json.dumps(body, ensure_ascii=False))

    def _text(self, text: str) -> list[ServerSentEvent]:
        out = self.cutoff.feed(text)
        return [self.chunk({"content": out})] if out else []

    def translate(self, event: Event) -> list[ServerSentEvent]:
        if isinstance(event, TokenEvent):
            return self._text(event.text)
        if isinstance(event, ResetEvent):
            return self._text(WITHDRAWN.format(reason=event.reason))
        if isinstance(event, ErrorEvent):
            status, detail = describe_event(event, self.settings)
            # The openai SDK raises an APIError for a data payload with an "error" key.
            _, body = openai_error(status, detail["code"], detail["message"])
            return [ServerSentEvent(data=json.dumps(body))]
        if not isinstance(event, DoneEvent):
            return []
        answer = public_answer(event, self.settings)
        citations = _citations(answer)
        out = self._text(sources_text(citations))
        tail = self.cutoff.close()
        if tail:
            out.append(self.chunk({"content": tail}))
        sent = self.cutoff.sent
        out.append(self.chunk({}, self.cutoff.finish_reason or "stop",
                              citations=_cited(citations, sent), paperchat=_meta(answer)))
        if self.options.include_usage:
            out.append(self.chunk({}, usage=_usage(self.options, sent)))
        return out
