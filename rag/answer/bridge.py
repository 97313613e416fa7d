"""Sync callers of the async pipeline: one event loop in a background thread runs it.

The CLI, the evals and the server's thread-pool routes are synchronous; the pipeline is
written once, async. Each sync call submits its coroutine (or each step of an async
generator) to a loop that lives as long as the process, so the async HTTP client and its
connection pool are reused across calls instead of rebuilt per call. Closing a bridged
generator (or an exception such as KeyboardInterrupt while waiting) cancels the step in
flight and closes the async generator on the loop, which closes the LLM's HTTP stream.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Coroutine, Generator
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def loop() -> asyncio.AbstractEventLoop:
    """The bridge's event loop, started on first use (a daemon thread)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            new = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(new)
                new.call_soon(ready.set)
                new.run_forever()

            threading.Thread(target=serve, name="paperchat-async", daemon=True).start()
            ready.wait()
            _loop = new
        return _loop


def _submit(coro: Coroutine[Any, Any, T]) -> Future[T]:
    running = loop()
    if threading.current_thread().name == "paperchat-async":
        coro.close()
        raise RuntimeError("a sync paperchat call was made from the bridge's own loop")
    return asyncio.run_coroutine_threadsafe(coro, running)


def _wait(future: Future[T]) -> T:
    try:
        return future.result()
    except BaseException:
        future.cancel()  # e.g. KeyboardInterrupt: stop the work on the loop too
        raise


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the bridge loop and wait for its result."""
    return _wait(_submit(coro))


def iterate(agen: AsyncGenerator[T, None]) -> Generator[T, None, None]:
    """A sync generator over an async one; closing it closes the async one on the loop."""
    lock = asyncio.Lock()  # a step cancelled mid-way finishes before the generator closes

    async def step() -> Any:
        async with lock:
            try:
                return await agen.__anext__()
            except StopAsyncIteration:
                return _END

    async def close() -> None:
        async with lock:
            await agen.aclose()

    try:
        while True:
            item = _wait(_submit(step()))
            if item is _END:
                return
            yield item
    finally:
        _submit(close()).result()
