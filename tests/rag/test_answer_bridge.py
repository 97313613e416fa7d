"""The sync bridge over the async pipeline: results, errors and an early close reach the
async side; it works from inside a running event loop too."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator

import pytest

from rag.answer import bridge
from rag.errors import InputError


async def _numbers(log: list[str]) -> AsyncGenerator[int, None]:
    try:
        for i in range(5):
            log.append(f"yield {i} on {threading.current_thread().name}")
            yield i
            await asyncio.sleep(0)
    finally:
        log.append("closed")


def test_iterate_yields_everything_then_closes() -> None:
    log: list[str] = []
    assert list(bridge.iterate(_numbers(log))) == [0, 1, 2, 3, 4]
    assert log[-1] == "closed" and "on paperchat-async" in log[0]


def test_closing_early_runs_the_async_cleanup() -> None:
    log: list[str] = []
    it = bridge.iterate(_numbers(log))
    assert next(it) == 0
    it.close()
    assert log == ["yield 0 on paperchat-async", "closed"]


def test_run_returns_and_raises() -> None:
    async def ok() -> int:
        return 42

    async def bad() -> int:
        raise InputError("the question is empty")

    assert bridge.run(ok()) == 42
    with pytest.raises(InputError, match="empty"):
        bridge.run(bad())


async def test_sync_call_from_inside_a_running_loop() -> None:
    log: list[str] = []
    assert list(bridge.iterate(_numbers(log))) == [0, 1, 2, 3, 4]  # no "loop is running"
