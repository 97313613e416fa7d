"""What a request may cost: its body size, its life after the client left, answer slots.

- `BodyLimit`: per-route body limits, enforced from Content-Length and while the body
  streams in (ingest: server.max_upload_bytes; chat completions: server.max_chat_bytes;
  everything else: server.max_request_bytes).
- `CancelOnDisconnect`: a request whose client hangs up before the response has started is
  cancelled, so a non-streamed answer stops its retrieval/generation (and closes its LLM
  stream) instead of finishing for nobody. Streamed responses watch for it themselves.
- `AnswerSlots`: at most server.max_answers answers are generated at once and at most
  server.max_queued_answers wait; past that a request gets 503 at once, with Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from sse_starlette import EventSourceResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.settings import Settings
from server.errors import BodyTooLarge, Overloaded, reject

_DISCONNECT: Message = {"type": "http.disconnect"}


def body_limit(settings: Settings) -> Callable[[str], int]:
    """The body limit in bytes of a request path."""
    server = settings.server

    def limit(path: str) -> int:
        if path == "/v1/ingest":
            return server.max_upload_bytes
        if path == "/v1/chat/completions":
            return server.max_chat_bytes
        return server.max_request_bytes

    return limit


class BodyLimit:
    """413 when Content-Length says too much, or as soon as a streamed body goes past it."""

    def __init__(self, app: ASGIApp, limit: Callable[[str], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope.get("path", ""))
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            # Answered before reading; closing the connection spares draining the body.
            too_large = BodyTooLarge(max_bytes)
            await reject(scope, 413, str(too_large.detail),
                         {"Connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    # An HTTPException, so FastAPI's body reading re-raises it untouched.
                    raise BodyTooLarge(max_bytes)
            return message

        await self.app(scope, limited, send)


class CancelOnDisconnect:
    """Pure ASGI middleware: one task reads the client's messages for the app (the body,
    then a possible `http.disconnect`); a disconnect before `http.response.start` cancels
    the app. Every reader sees the disconnect, however many are waiting."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        # Capacity 1: the pump reads at most one message ahead of the app, so a body is not
        # buffered (the body limit applies as it arrives), yet a final message the app never
        # asks for (a GET) does not stop the pump from seeing the disconnect.
        tx, rx = anyio.create_memory_object_stream[Message](1)
        gone = anyio.Event()

        async def pump() -> None:
            async with tx:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        gone.set()
                        if not started:
                            tg.cancel_scope.cancel()
                        return
                    await tx.send(message)

        async def app_receive() -> Message:
            if gone.is_set():
                return _DISCONNECT
            try:
                return await rx.receive()
            except anyio.EndOfStream:
                return _DISCONNECT

        async def app_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                await self.app(scope, app_receive, app_send)
            except Exception as e:  # re-raised below, not wrapped in an ExceptionGroup
                failure = e
            finally:
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure


class Lease:
    """One answer slot; `release` is idempotent, so every exit path may call it."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore: asyncio.Semaphore | None = semaphore

    def release(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None


class AnswerSlots:
    """Admission control for answer generation: `running` at once, `waiting` queued."""

    def __init__(self, running: int, waiting: int) -> None:
        self.running, self.waiting = running, waiting
        self._semaphore = asyncio.Semaphore(running)
        self._queued = 0

    async def acquire(self) -> Lease:
        """A slot, after waiting in line if need be; Overloaded (503) at once if the line is
        full. Cancelling the waiter (the client left) leaves the line."""
        if self._semaphore.locked():
            if self._queued >= self.waiting:
                raise Overloaded("the server is answering as many questions as it can; "
                                 "try again shortly", retry_after=1)
            self._queued += 1
            try:
                await self._semaphore.acquire()
            finally:
                self._queued -= 1
        else:
            await self._semaphore.acquire()
        return Lease(self._semaphore)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        lease = await self.acquire()
        try:
            yield
        finally:
            lease.release()


class LeasedEventSource(EventSourceResponse):
    """A streamed answer that frees its slot when the response ends, fails or is cancelled
    (also if it never started streaming)."""

    def __init__(self, content: Any, lease: Lease, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.lease.release()


async def get_slots(request: Request) -> AnswerSlots:
    return request.app.state.slots  # type: ignore[no-any-return]  # app.state is untyped


SlotsDep = Annotated[AnswerSlots, Depends(get_slots)]
