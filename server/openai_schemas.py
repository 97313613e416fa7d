"""The OpenAI chat-completions contract as this server honours it (request and response).

Inputs are strict (`"stream": "yes"`, `"max_tokens": true` or `"n": "2"` are 400). What this
server cannot do is refused by name rather than ignored: `n` > 1, `tools`, `functions`, a
`tool_choice` that would call one, a `response_format` other than text, `logprobs`, and
non-text message parts. Sampling options (`temperature`, `top_p`, `seed`, penalties, `user`,
...) and parameters it does not know are accepted and have no effect: the answer comes from
the papers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from rag.answer.models import Citation

STOP_STRINGS = 4  # as OpenAI allows


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ContentPart(_Strict):
    model_config = ConfigDict(strict=True, extra="allow")
    type: StrictStr
    text: StrictStr | None = None


class ChatMessageIn(_Strict):
    model_config = ConfigDict(strict=True, extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: StrictStr | list[ContentPart] | None = None


class StreamOptions(_Strict):
    model_config = ConfigDict(strict=True, extra="allow")
    include_usage: StrictBool = Field(False, description="Send a last chunk with `usage` "
                                      "(and `usage: null` on the others).")


class ChatRequest(_Strict):
    """The OpenAI chat-completions request."""

    model_config = ConfigDict(strict=True, extra="allow")
    model: StrictStr = Field(description="Must be `paperchat` (see GET /v1/models).")
    messages: list[ChatMessageIn] = Field(min_length=1, description="The last user message "
                                          "is the question; earlier turns are history.")
    stream: StrictBool | None = False
    stream_options: StreamOptions | None = Field(None, description="Only with `stream`.")
    max_tokens: StrictInt | None = Field(None, ge=1, description="Cut the reply (answer and "
                                         "Sources list) at this many tokens; finish_reason "
                                         "`length`.")
    max_completion_tokens: StrictInt | None = Field(None, ge=1, description="The same as "
                                                    "max_tokens (the smaller one wins).")
    stop: StrictStr | list[StrictStr] | None = Field(
        None, description=f"Up to {STOP_STRINGS} strings; the reply ends before the first.")
    n: StrictInt | None = Field(None, ge=1, description="Only 1: one answer per request.")
    temperature: float | None = Field(None, ge=0, le=2, description="Accepted, no effect.")
    top_p: float | None = Field(None, ge=0, le=1, description="Accepted, no effect.")
    tools: list[Any] | None = Field(None, description="Not supported (400 unless empty).")
    tool_choice: Any = Field(None, description="Only `none` or `auto` (no tools are called).")
    response_format: Any = Field(None, description='Only {"type": "text"}.')
    logprobs: StrictBool | None = Field(None, description="Only false.")


class ChatReply(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatReply
    finish_reason: Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Tokens of the messages sent (cl100k_base).")
    completion_tokens: int = Field(description="Tokens of the reply content.")
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[Citation] = Field(description="The structured sources behind the [n] "
                                      "markers in the content.")
    paperchat: dict[str, Any] = Field(description="engine, refused, degraded, timings, and "
                                      "the engine's own token usage.")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, server_error, ...")
    param: str | None = Field(description="The request parameter at fault, if one is.")
    code: str | None = Field(description="e.g. invalid_api_key, model_not_found, "
                             "invalid_value, unsupported_value, missing_required_parameter.")


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorDetail


def openai_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error statuses with OpenAI's error shape."""
    from http import HTTPStatus

    return {s: {"model": OpenAIErrorBody, "description": HTTPStatus(s).phrase}
            for s in statuses}
