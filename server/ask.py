"""POST /v1/ask and /v1/ask/stream: a cited answer, whole or as Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent

from rag.answer.events import DoneEvent, ErrorEvent, Event
from rag.answer.models import Answer
from rag.settings import Settings
from server.checks import answer_of, check_engine, check_question, check_session, public_answer
from server.deps import AssistantDep, SessionsDep, SettingsDep
from server.errors import AnswerFailed, describe_event
from server.limits import LeasedEventSource, SlotsDep
from server.schemas import AskRequest, error_responses
from server.security import UserDep

# astream is annotated AsyncIterator but is an async generator, which can be closed.
Stream = AsyncGenerator[Event, None]
router = APIRouter(tags=["ask"], responses=error_responses(404, 503))

_EVENT_TYPES = ["sources", "token", "reset", "citations", "done", "error"]
_EVENT_SCHEMA = {  # one server-sent event (OpenAPI 3.1: `schema` describes each event)
    "type": "object", "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": _EVENT_TYPES},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": {"type": "object", "required": ["type"],
                                   "properties": {"type": {"enum": _EVENT_TYPES}}}}},
}
_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "`text/event-stream`: one `sources` event, `token` events with "
          "`text`, one `citations` event, then `done` with the full answer JSON; or an "
          "`error` event with `code` and `message`, after which the stream ends. A `reset` "
          "event (with a `reason`) withdraws the text streamed so far; the `token` events "
          "after it are the answer (`done.answer` is always the final text).",
          "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}}},
}


@router.post("/ask", response_model=Answer)
async def ask(body: AskRequest, assistant: AssistantDep, settings: SettingsDep,
              sessions: SessionsDep, user: UserDep, slots: SlotsDep) -> Answer:
    """Answer a question from the collection, citing papers as [n].

    Returns the same JSON as `paperchat ask --json`. With `session_id` the question continues
    that chat session of the caller (and is saved to it); another user's session is 404.
    When the LLM endpoint fails the answer is extractive with `degraded: true` (if
    `llm.fallback_extractive`), else 503; also 503 (`llm_unavailable`) when it breaks off
    after the answer had begun, and 503 (`store_unavailable`) while the Chroma server cannot
    be reached. A client that disconnects before the answer is sent cancels it (the LLM
    request is closed). 503 `overloaded` with `Retry-After` when the server is already
    generating server.max_answers answers and server.max_queued_answers more wait.
    """
    check_question(body.question, settings)
    check_engine(assistant, body.engine)
    await check_session(sessions, body.session_id, user)
    async with slots.hold():
        return await answer_of(assistant, body.question, settings, k=body.k,
                               engine=body.engine, session_id=body.session_id)


@router.post("/ask/stream", response_model=None, responses=_STREAM_DOC)
async def ask_stream(body: AskRequest, assistant: AssistantDep, settings: SettingsDep,
                     sessions: SessionsDep, user: UserDep,
                     slots: SlotsDep) -> EventSourceResponse:
    """Stream the answer as Server-Sent Events: sources, token..., citations, done.

    Each event's `data` is the JSON of the event (`{"type": ..., ...}`), its SSE `event`
    field the type. Problems found before the first event (bad input, unknown session,
    503 `overloaded`) are ordinary JSON errors; later ones arrive as an `error` event.
    Closing the connection cancels the generation.
    """
    check_question(body.question, settings)
    check_engine(assistant, body.engine)
    await check_session(sessions, body.session_id, user)
    lease = await slots.acquire()
    try:
        events = cast(Stream, assistant.astream(body.question, k=body.k, engine=body.engine,
                                                session_id=body.session_id))
        first = await anext(events)
    except BaseException:
        lease.release()
        raise
    if isinstance(first, ErrorEvent):
        lease.release()
        await events.aclose()
        raise AnswerFailed(first)
    return LeasedEventSource(_sse(first, events, settings), lease, ping=15)


async def _sse(first: Event, events: Stream,
               settings: Settings) -> AsyncIterator[ServerSentEvent]:
    """Encode events; closing this generator (client gone) closes the answer stream."""
    async with aclosing(events):
        yield _encode(first, settings)
        async for event in events:
            yield _encode(event, settings)


def _encode(event: Event, settings: Settings) -> ServerSentEvent:
    if isinstance(event, ErrorEvent):
        event = ErrorEvent(**describe_event(event, settings)[1])
    elif isinstance(event, DoneEvent):
        event = public_answer(event, settings)
    return ServerSentEvent(data=event.model_dump_json(), event=event.type)
