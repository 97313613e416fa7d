"""OpenAI-compatible API: GET /v1/models and POST /v1/chat/completions (streamed or not).

The conversation's last user message is the question and earlier turns are the history.
The reply text keeps the [n] markers and ends with a "Sources:" list, so plain clients show
the references; the structured citations ride along in a `citations` field (in the final
chunk when streaming). Streamed text cannot be taken back from an OpenAI client: when the
answer is withdrawn mid-stream (a `reset`: the grounding guard replaced the model's answer)
the stream carries a visible note and then the replacement, while a non-streamed reply
holds only the replacement. The request contract is server/openai_schemas.py; the replies
are built in server/openai_replies.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path
from sse_starlette import ServerSentEvent

from rag.answer.events import ErrorEvent, Event
from rag.errors import InputError, NotFoundError
from rag.settings import Settings
from server.ask import Stream
from server.checks import answer_of, check_question
from server.deps import AssistantDep, SettingsDep
from server.errors import AnswerFailed, BadParameter
from server.limits import LeasedEventSource, SlotsDep
from server.openai_replies import (
    MODEL_ID,
    Chunks,
    Options,
    completion,
    messages_tokens,
    split_sources,
)
from server.openai_schemas import (
    STOP_STRINGS,
    ChatCompletion,
    ChatMessageIn,
    ChatRequest,
    ModelCard,
    ModelList,
    openai_error_responses,
)

router = APIRouter(tags=["openai"], responses=openai_error_responses(400, 401, 413))
MODEL_ID_CHARS = 128
_CREATED = int(time.time())
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


@router.get("/models/{model}", response_model=ModelCard,
            responses=openai_error_responses(404))
async def get_model(model: Annotated[str, Path(max_length=MODEL_ID_CHARS)]) -> ModelCard:
    """One model by id; only `paperchat` exists."""
    _check_model(model)
    return _card()


@router.post("/chat/completions", response_model=ChatCompletion,
             responses={**_STREAM_DOC, **openai_error_responses(404, 503)})
async def chat_completions(body: ChatRequest, assistant: AssistantDep,
                           settings: SettingsDep, slots: SlotsDep) -> Any:
    """OpenAI chat completions over the collection: a cited answer to the last user message.

    Works with any OpenAI client pointed at this server's /v1 (model `paperchat`). Honoured:
    `stream`, `stream_options.include_usage`, `max_tokens` / `max_completion_tokens`
    (finish_reason `length`) and `stop`, for both answer engines; `usage` counts the
    messages sent and the content returned. Refused with 400 naming the parameter: `n` > 1,
    `tools`, `tool_choice` that would call one, `response_format` other than text,
    `logprobs`, non-text message parts. Sampling options are accepted and have no effect.
    Errors have OpenAI's shape (`message`, `type`, `param`, `code`) and statuses. Extra
    response fields: `citations` (the sources behind each [n] in the content) and
    `paperchat` (engine, refused, degraded, timings, the engine's own usage).
    """
    _check_model(body.model)
    options = _options(body)
    try:
        question, history = conversation(body.messages)
        check_question(question, settings)
    except InputError as e:
        raise BadParameter(str(e), param="messages", code="invalid_value") from e
    options = Options(options.max_tokens, options.stop, options.include_usage,
                      messages_tokens([{"content": _text(m)} for m in body.messages]))
    if not body.stream:
        async with slots.hold():
            return completion(await answer_of(assistant, question, settings,
                                              history=history), options)
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
        raise AnswerFailed(first)
    return LeasedEventSource(_chunks(first, events, settings, options), lease, ping=15)


def _card() -> ModelCard:
    return ModelCard(id=MODEL_ID, created=_CREATED, owned_by="paperchat")


class ModelNotFound(NotFoundError):
    """404 `model_not_found`, as OpenAI names it."""

    code = "model_not_found"
    param = "model"


def _check_model(model: str) -> None:
    if model != MODEL_ID:
        raise ModelNotFound(f"the model {model[:80]!r} does not exist; this server has "
                            f"{MODEL_ID!r}")


def _options(body: ChatRequest) -> Options:
    """The reply options; BadParameter (400, naming it) for what this server cannot do."""
    def refuse(param: str, why: str, code: str = "unsupported_value") -> BadParameter:
        return BadParameter(f"{param}: {why}", param=param, code=code)

    if body.n is not None and body.n > 1:
        raise refuse("n", f"n={body.n} is not supported: this server writes one answer per "
                     "request (send n=1 or leave it out)")
    if body.tools:
        raise refuse("tools", "tool calling is not supported by this server",
                     "unsupported_parameter")
    extra = body.model_extra or {}
    if extra.get("functions"):
        raise refuse("functions", "function calling is not supported by this server",
                     "unsupported_parameter")
    if body.tool_choice not in (None, "none", "auto"):
        raise refuse("tool_choice", "only 'none' or 'auto' (no tools are ever called)")
    if extra.get("function_call") not in (None, "none", "auto"):
        raise refuse("function_call", "only 'none' or 'auto' (no functions are called)")
    if body.response_format not in (None, {"type": "text"}):
        raise refuse("response_format", 'only {"type": "text"}: answers are cited prose, '
                     "not JSON")
    if body.logprobs or extra.get("top_logprobs"):
        raise refuse("logprobs", "log probabilities are not available from this server")
    if body.stream_options is not None and not body.stream:
        raise refuse("stream_options", "only allowed when stream is true", "invalid_value")
    for i, m in enumerate(body.messages):
        if isinstance(m.content, list) and any(p.type != "text" for p in m.content):
            raise refuse(f"messages.{i}.content", "only text content parts are supported")
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stop) > STOP_STRINGS:
        raise refuse("stop", f"at most {STOP_STRINGS} stop strings", "invalid_value")
    limits = [t for t in (body.max_tokens, body.max_completion_tokens) if t is not None]
    return Options(max_tokens=min(limits) if limits else None, stop=stop,
                   include_usage=bool(body.stream_options and body.stream_options.include_usage))


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


async def _chunks(first: Event, events: Stream, settings: Settings,
                  options: Options) -> AsyncIterator[ServerSentEvent]:
    """chat.completion.chunk events; closing this generator closes the answer stream."""
    stream = Chunks(settings, options)
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
