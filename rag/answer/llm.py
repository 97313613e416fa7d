"""The `llm` engine's transport: chat completions over the official openai client.

The answer pipeline streams with the async client (one per event loop); the sync
`complete` serves the evals' judge. Only `content` is read from a reply: the reasoning
some servers send alongside (`reasoning_content`, `reasoning`) is never shown. Retries with
backoff on 429/5xx/timeouts are the client's own (`max_retries` from settings). Every
failure becomes an LLMUnavailable naming the endpoint and what to check, never the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from rag.errors import LLMUnavailable
from rag.llm_client import make_async_openai_client, make_openai_client

if TYPE_CHECKING:
    import openai

    from rag.settings import LLMSettings

DEFAULT_ENDPOINT = "https://api.openai.com/v1"
CONDENSE_MAX_TOKENS = 200


def public_endpoint(base_url: str | None) -> str:
    """The endpoint as shown to users: no credentials, query or fragment."""
    if not base_url:
        return DEFAULT_ENDPOINT
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class ChatModel:
    """One configured chat endpoint; clients are built once and reused."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.endpoint = public_endpoint(settings.base_url)
        self._client: openai.OpenAI | None = None
        # httpx async connection pools belong to one event loop: a client per loop (the
        # server's or the TUI's, and the sync bridge's).
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                  openai.AsyncOpenAI] = \
            weakref.WeakKeyDictionary()

    def _kwargs(self) -> dict[str, Any]:
        s = self.settings
        return {"base_url": s.base_url, "api_key": s.api_key, "timeout": s.timeout,
                "max_retries": s.max_retries}

    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = make_openai_client(**self._kwargs())
        return self._client

    def aclient(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = self._aclients[loop] = make_async_openai_client(**self._kwargs())
        return client

    def _request(self, messages: list[dict[str, str]], max_tokens: int,
                 stream: bool) -> dict[str, Any]:
        req: dict[str, Any] = {"model": self.settings.model, "messages": messages,
                               "max_tokens": max_tokens,
                               "temperature": self.settings.temperature}
        if stream:
            req.update(stream=True, stream_options={"include_usage": True})
        return req

    # -- sync -----------------------------------------------------------------
    def complete(self, messages: list[dict[str, str]], *, max_tokens: int,
                 usage: dict[str, int]) -> str:
        """The whole reply of a non-streamed request."""
        with self._converted():
            resp = self.client().chat.completions.create(
                **self._request(messages, max_tokens, False))
        return _message_text(resp, usage)

    # -- async ----------------------------------------------------------------
    async def astream_chat(self, messages: list[dict[str, str]], *, max_tokens: int,
                           usage: dict[str, int]) -> AsyncGenerator[str, None]:
        """Async text deltas; closing or cancelling the consumer closes the HTTP stream."""
        with self._converted():
            stream = await self.aclient().chat.completions.create(
                **self._request(messages, max_tokens, True))
            async with stream:
                async for chunk in stream:
                    for delta in _deltas(chunk, usage):
                        yield delta

    async def acomplete(self, messages: list[dict[str, str]], *, max_tokens: int,
                        usage: dict[str, int]) -> str:
        with self._converted():
            resp = await self.aclient().chat.completions.create(
                **self._request(messages, max_tokens, False))
        return _message_text(resp, usage)

    # -- errors ---------------------------------------------------------------
    @contextlib.contextmanager
    def _converted(self) -> Iterator[None]:
        """Raise `failure(e)` in place of a transport/API error `e` from the block."""
        try:
            yield
        except Exception as e:
            err = self.failure(e)
            if err is e:
                raise
            raise err from e

    def failure(self, e: Exception) -> Exception:
        """An LLMUnavailable for transport/API errors; anything else is returned unchanged."""
        import httpx
        import openai

        if isinstance(e, LLMUnavailable):
            return e
        where = f"the LLM endpoint {self.endpoint}"
        model = self.settings.model
        retries = self.settings.max_retries
        after = f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""
        status: int | None = getattr(e, "status_code", None)
        if isinstance(e, openai.APITimeoutError | httpx.TimeoutException):
            msg = (f"{where} did not answer within {self.settings.timeout:g} s{after}; check "
                   "that the server is running and not overloaded, or raise "
                   "PAPERCHAT_LLM_TIMEOUT")
        elif isinstance(e, openai.APIConnectionError):
            msg = (f"could not connect to {where}{after}; check that the server is running "
                   "and that PAPERCHAT_LLM_BASE_URL / OPENAI_BASE_URL is right")
        elif isinstance(e, httpx.TransportError):  # raised while reading a started stream
            msg = (f"the connection to {where} broke off during the answer "
                   f"({type(e).__name__}); check the server and the network")
        elif isinstance(e, openai.AuthenticationError):
            msg = (f"{where} rejected the API key (401 Unauthorized); check OPENAI_API_KEY "
                   "or PAPERCHAT_LLM_API_KEY")
        elif isinstance(e, openai.PermissionDeniedError):
            msg = (f"{where} refused access (403 Forbidden) to model '{model}'; check the "
                   "key's permissions and PAPERCHAT_LLM_MODEL")
        elif isinstance(e, openai.NotFoundError):
            msg = (f"{where} answered 404 Not Found for model '{model}'; check "
                   "PAPERCHAT_LLM_MODEL and that the base URL ends in /v1")
        elif isinstance(e, openai.RateLimitError):
            msg = (f"{where} is rate-limiting requests (429 Too Many Requests){after}; wait "
                   "and try again, or check the account's quota")
        elif isinstance(e, openai.APIStatusError) and e.status_code >= 500:
            msg = (f"{where} failed with a server error ({e.status_code}){after}; check the "
                   f"server's logs and that model '{model}' is loaded")
        elif isinstance(e, openai.APIStatusError):
            msg = (f"{where} rejected the request ({e.status_code}): "
                   f"{self._scrub(_short(e))}; check PAPERCHAT_LLM_MODEL and the request size")
        elif isinstance(e, openai.APIError):
            msg = f"{where} returned an error: {self._scrub(_short(e))}"
        else:
            return e
        return LLMUnavailable(msg, endpoint=self.endpoint, status=status)

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        return text.replace(key, "***") if key else text


def _short(e: Exception, limit: int = 200) -> str:
    body = getattr(e, "body", None)
    msg = body.get("message") if isinstance(body, dict) else None
    text = str(msg or getattr(e, "message", "") or type(e).__name__).splitlines()[0]
    return text if len(text) <= limit else text[:limit] + "…"


def _deltas(chunk: Any, usage: dict[str, int]) -> Iterator[str]:
    if getattr(chunk, "usage", None):
        usage["prompt_tokens"] = chunk.usage.prompt_tokens or 0
        usage["completion_tokens"] = chunk.usage.completion_tokens or 0
    for choice in chunk.choices or []:
        content = choice.delta.content if choice.delta else None
        if content:
            yield content


def _message_text(resp: Any, usage: dict[str, int]) -> str:
    if getattr(resp, "usage", None):
        usage["prompt_tokens"] = resp.usage.prompt_tokens or 0
        usage["completion_tokens"] = resp.usage.completion_tokens or 0
    if not resp.choices:
        return ""
    return resp.choices[0].message.content or ""
