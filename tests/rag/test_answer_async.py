"""astream: the same events as stream, real async HTTP, and cancellation closing the stream
(closing the sync stream too)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from rag.answer.events import Event
from rag.answer.service import Assistant
from tests.rag.conftest import OUT_OF_SCOPE
from tests.utils.fake_openai import FakeOpenAI

QUESTION = "Which papers pretrain vision transformers, and on what images?"
LONG_REPLY = " ".join(f"word{i}" for i in range(60)) + " [1]."


async def _collect(assistant: Assistant, question: str, **kwargs: Any) -> list[Event]:
    return [e async for e in assistant.astream(question, **kwargs)]


async def test_astream_matches_stream(make_assistant: Callable[..., Assistant],
                                      fake_openai: FakeOpenAI) -> None:
    reply = "Masking helps [2]. CT pretraining too [1, 2]."
    fake_openai.queue(reply, reply)
    assistant = make_assistant()
    async_events = await _collect(assistant, QUESTION)
    sync_events = list(assistant.stream(QUESTION))
    assert [e.type for e in async_events] == [e.type for e in sync_events]
    a, s = async_events[-1].data, sync_events[-1].data
    assert a["answer"] == s["answer"] == "Masking helps [1]. CT pretraining too [1, 2]."
    assert a["citations"] == s["citations"]
    assert "".join(e.data["text"] for e in async_events if e.type == "token") == a["answer"]


async def test_astream_extractive_refusal_and_errors(make_assistant: Callable[..., Assistant],
                                                     fake_openai: FakeOpenAI) -> None:
    extractive = await _collect(make_assistant(llm=False), QUESTION)
    assert extractive[0].type == "sources" and extractive[-1].type == "done"
    assert extractive[-1].data["engine"] == "extractive"
    refused = await _collect(make_assistant(), OUT_OF_SCOPE)
    assert refused[-1].data["refused"] is True and fake_openai.requests == []
    fake_openai.fail(500, times=5)
    failed = await _collect(make_assistant(llm__fallback_extractive=False), QUESTION)
    assert [e.type for e in failed] == ["sources", "error"]
    assert fake_openai.base_url in failed[-1].data["message"]
    degraded = await _collect(make_assistant(llm__fallback_extractive=True), QUESTION)
    assert degraded[-1].data["degraded"] is True


async def test_astream_condenses_follow_ups(make_assistant: Callable[..., Assistant],
                                            fake_openai: FakeOpenAI) -> None:
    history = [{"role": "user", "content": "Tell me about masked autoencoders."},
               {"role": "assistant", "content": "They mask patches [1]."}]
    fake_openai.queue("Which masking ratio do masked autoencoders use?", "75 percent [1].")
    events = await _collect(make_assistant(), "which ratio?", history=history)
    assert len(fake_openai.chat_requests) == 2
    assert fake_openai.chat_requests[0].get("stream") is not True
    assert events[-1].data["answer"] == "75 percent [1]."


async def test_aclose_closes_the_http_stream(make_assistant: Callable[..., Assistant],
                                             fake_openai: FakeOpenAI) -> None:
    fake_openai.chunk_delay = 0.05
    fake_openai.queue(LONG_REPLY)
    stream = make_assistant().astream(QUESTION)
    async for event in stream:
        if event.type == "token":
            break
    await stream.aclose()
    assert await asyncio.to_thread(fake_openai.wait_for, lambda: fake_openai.disconnects >= 1)
    assert fake_openai.completed_streams == 0


async def test_task_cancel_closes_the_http_stream(make_assistant: Callable[..., Assistant],
                                                  fake_openai: FakeOpenAI) -> None:
    fake_openai.chunk_delay = 0.05
    fake_openai.queue(LONG_REPLY)
    first_token = asyncio.Event()
    seen: list[str] = []

    async def consume() -> None:
        async for event in make_assistant().astream(QUESTION):
            seen.append(event.type)
            if event.type == "token":
                first_token.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_token.wait(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert "done" not in seen
    assert await asyncio.to_thread(fake_openai.wait_for, lambda: fake_openai.disconnects >= 1)
    assert fake_openai.completed_streams == 0


async def test_astream_cut_after_tokens_is_an_error_and_condense_failure_degrades(
        make_assistant: Callable[..., Assistant], fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("Vision transformers are pretrained on many kinds of images [1].")
    fake_openai.cut_stream_after = 3
    cut = await _collect(make_assistant(llm__fallback_extractive=True), QUESTION)
    assert "token" in [e.type for e in cut] and cut[-1].type == "error"
    assert "broke off" in cut[-1].data["message"]
    fake_openai.cut_stream_after = None
    fake_openai.fail(503, times=10)
    history = [{"role": "user", "content": "Which papers use raw audio?"},
               {"role": "assistant", "content": "wav2vec does [1]."}]
    degraded = await _collect(make_assistant(), "what error rate did they reach?",
                              history=history)
    assert degraded[-1].data["degraded"] is True and degraded[-1].data["engine"] == "extractive"


def test_closing_the_sync_stream_closes_the_http_stream(
        make_assistant: Callable[..., Assistant], fake_openai: FakeOpenAI) -> None:
    fake_openai.chunk_delay = 0.05
    fake_openai.queue(LONG_REPLY)
    stream = make_assistant().stream(QUESTION)
    for event in stream:
        if event.type == "token":
            break
    stream.close()
    assert fake_openai.wait_for(lambda: fake_openai.disconnects >= 1)
    assert fake_openai.completed_streams == 0
