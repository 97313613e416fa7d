"""OpenAI-compatible API: GET /v1/models and POST /v1/chat/completions (streamed or not).

The conversation's last user message is the question and earlier turns are the history.
The reply text keeps the [n] markers and ends with a "Sources:" list, so plain clients show
the references; the structured citations ride along in a `citations` field (in the final
chunk when streaming). Streamed text cannot be taken back from an OpenAI client: when the
answer is withdrawn mid-stream (a `reset`: the grounding guard replaced the model's answer)
the stream carries a visible note and then the replacement, while a non-streamed reply
holds only the replacement.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from sse_starlette import ServerSentEvent

from rag.answer.events import DoneEvent, ErrorEvent, Event, ResetEvent, TokenEvent
from rag.answer.models import Answer
from rag.errors import InputError, NotFoundError
from rag.settings import Settings
from server.ask import Stream
from server.checks import answer_of, check_question, public_answer
from server.deps import AssistantDep, SettingsDep
from server.errors import describe_event, error_body
from server.limits import LeasedEventSource, SlotsDep
from server.schemas import (
    ChatCompletion,
    ChatMessageIn,
    ChatRequest,
    ModelCard,
    ModelList,
    error_responses,
)

router = APIRouter(tags=["openai"])
MODEL_ID = "paperchat"
MODEL_ID_CHARS = 128
_CREATED = int(time.time())
_SOURCES = "\n\nSources:\n"
WITHDRAWN = "\n\n---\n*Withdrawn: {reason}*\n\n"
_SOURCE_LINE = re.compile(r"\[(\d+)\] (.+) \(([^()\s]+)\)")
_STREAM_DOC: dict[int | str, dict[str, Any]] = {200: {
    "description": "JSON, or with `stream: true` `text/event-stream` of "
    "chat.completion.chunk objects ending with `data: [DONE]`.",
    "content": {"text/event-stream": {"schema": {
        "type": "object", "required": ["data"],
        "properties": {"data": {"type": "string", "description": "A chunk as JSON, or "
                                "[DONE]."}}}}}}}


@router.get("/models", response_model=ModelList)
async def list_models() -> ModelList:
    """The models this server answers with: one, `paperchat`."""
    return ModelList(data=[_card()])


@router.get("/models/{model}", response_model=ModelCard, responses=error_responses(404))
async def get_model(model: Annotated[str, Path(max_length=MODEL_ID_CHARS)]) -> ModelCard:
    """One model by id; only `paperchat` exists."""
    _check_model(model)
    return _card()


@router.post("/chat/completions", response_model=ChatCompletion,
             responses={**_STREAM_DOC, **error_responses(404, 503)})
async def chat_completions(body: ChatRequest, assistant: AssistantDep,
                           settings: SettingsDep, slots: SlotsDep) -> Any:
    """OpenAI chat completions over the collection: a cited answer to the last user message.

    Works with any OpenAI client pointed at this server's /v1 (model `paperchat`). Sampling
    options are accepted and ignored. Extra response fields: `citations` (the sources
    behind each [n]) and `paperchat` (engine, refused, degraded, timings).
    """
    _check_model(body.model)
    question, history = conversation(body.messages)
    check_question(question, settings)
    if not body.stream:
        async with slots.hold():
            return completion(await answer_of(assistant, question, settings,
                                              history=history))
    lease = await slots.acquire()
    try:
        events = cast(Stream, assistant.astream(question, history=history))
        first = await anext(events)
    except BaseException:
        lease.release()
        raise
    if isinstance(first, ErrorEvent):
        lease.release()
        await events.aclose()
        status, detail = describe_event(first, settings)
        return JSONResponse(error_body(**detail), status_code=status)
    options = body.model_extra.get("stream_options") if body.model_extra else None
    usage = isinstance(options, dict) and bool(options.get("include_usage"))
    return LeasedEventSource(_chunks(first, events, settings, usage), lease, ping=15)


def _card() -> ModelCard:
    return ModelCard(id=MODEL_ID, created=_CREATED, owned_by="paperchat")


def _check_model(model: str) -> None:
    if model != MODEL_ID:
        raise NotFoundError(f"unknown model {model[:80]!r}; this server has {MODEL_ID!r}")


def _text(message: ChatMessageIn) -> str:
    if isinstance(message.content, list):
        return "".join(part.text or "" for part in message.content if part.type == "text")
    return message.content or ""


def conversation(messages: list[ChatMessageIn]) -> tuple[str, list[dict[str, Any]]]:
    """(question, history): the last user message, and the user/assistant turns before it.

    An assistant turn that ends with our "Sources:" list gets its citations back, so a
    follow-up such as "what about the second one?" resolves as it does in a session.
    """
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise InputError("the conversation has no user message to answer")
    history: list[dict[str, Any]] = []
    for m in messages[:last]:
        if m.role == "user":
            history.append({"role": "user", "content": _text(m)})
        elif m.role == "assistant":
            text, citations = split_sources(_text(m))
            history.append({"role": "assistant", "content": text, "citations": citations})
    return _text(messages[last]), history


def split_sources(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Undo `sources_text`: (answer text, citations) of a reply this server wrote."""
    body, marker, tail = text.rpartition(_SOURCES)
    if not marker:
        return text, []
    found = [_SOURCE_LINE.fullmatch(line) for line in tail.split("\n")]
    if not all(found):
        return text, []  # not our list: keep the text as it is
    return body, [{"n": int(m[1]), "title": m[2], "paper_id": m[3]} for m in found if m]


def sources_text(citations: list[dict[str, Any]]) -> str:
    """The "Sources:" list appended to the reply text (empty when nothing is cited), from
    the citations' JSON."""
    if not citations:
        return ""
    lines = [f"[{c['n']}] {c['title']} ({c['paper_id']})" for c in citations]
    return _SOURCES + "\n".join(lines)


_META = {"engine", "refused", "degraded", "notice", "timings", "unsupported"}


def _meta(answer: Answer) -> dict[str, Any]:
    return answer.model_dump(mode="json", include=_META)


def _citations(answer: Answer) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in answer.citations]


def completion(answer: Answer) -> dict[str, Any]:
    """A chat.completion object from an answer."""
    citations = _citations(answer)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
        "created": int(time.time()), "model": MODEL_ID,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": answer.answer + sources_text(citations)}}],
        "usage": {k: int(answer.usage.get(k, 0)) for k in
                  ("prompt_tokens", "completion_tokens", "total_tokens")},
        "citations": citations, "paperchat": _meta(answer),
    }


async def _chunks(first: Event, events: Stream, settings: Settings,
                  include_usage: bool) -> AsyncIterator[ServerSentEvent]:
    """chat.completion.chunk events; closing this generator closes the answer stream."""
    stream = _ChunkStream(settings, include_usage)
    async with aclosing(events):
        yield stream.chunk({"role": "assistant", "content": ""})
        for out in stream.translate(first):
            yield out
        async for event in events:
            for out in stream.translate(event):
                yield out
            if isinstance(event, ErrorEvent):
                return
    yield ServerSentEvent(data="[DONE]")


class _ChunkStream:
    """Turns answer events into chat.completion.chunk server-sent events."""

    def __init__(self, settings: Settings, include_usage: bool) -> None:
        self.settings, self.include_usage = settings, include_usage
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(self, delta: dict[str, Any], finish: str | None = None,
              **extra: Any) -> ServerSentEvent:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}] \
            if delta or finish else []
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": MODEL_ID, "choices": choices, **extra}
        return ServerSentEvent(data=json.dumps(body, ensure_ascii=False))

    def translate(self, event: Event) -> list[ServerSentEvent]:
        if isinstance(event, TokenEvent):
            return [self.chunk({"content": event.text})]
        if isinstance(event, ResetEvent):
            return [self.chunk({"content": WITHDRAWN.format(reason=event.reason)})]
        if isinstance(event, ErrorEvent):
            _, detail = describe_event(event, self.settings)
            # The openai SDK raises an APIError for a data payload with an "error" key.
            return [ServerSentEvent(data=json.dumps({"error": {**detail,
                                                               "type": detail["code"]}}))]
        if not isinstance(event, DoneEvent):
            return []
        answer = public_answer(event, self.settings)
        citations = _citations(answer)
        tail = sources_text(citations)
        out = [self.chunk({"content": tail})] if tail else []
        out.append(self.chunk({}, "stop", citations=citations, paperchat=_meta(answer)))
        if self.include_usage:
            out.append(self.chunk({}, usage=completion(answer)["usage"]))
        return out
