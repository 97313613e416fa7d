"""The OpenAI chat-completions contract as the official SDK sees it (sync and async,
streamed and not), for both answer engines, against a real uvicorn on loopback; the llm
engine streams from the fake OpenAI server. Then llama-index and LangChain as clients."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from rag.settings import Settings
from rag.tokens import count_tokens
from tests.server.conftest import API_KEY
from tests.server.live import LiveServer, live_server
from tests.utils.fake_openai import FakeOpenAI, fake_openai_server

QUESTION = "How are vision transformers pretrained?"
MESSAGES = [{"role": "user", "content": QUESTION}]
REPLY = ("Vision transformers are pretrained with masked image modelling [1], and "
         "self-distillation without labels also works well [2]. " * 3).strip()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai_server(default_reply=REPLY) as server:
        yield server


@pytest.fixture(scope="module", params=["extractive", "llm"])
def server(request: pytest.FixtureRequest, bundled_fake_home: object,
           fake: FakeOpenAI) -> Iterator[LiveServer]:
    llm = {"base_url": fake.base_url, "max_retries": 0} if request.param == "llm" else {}
    settings = Settings(home=bundled_fake_home, embed={"provider": "fake"},  # type: ignore[arg-type]
                        api_key=API_KEY, llm=llm,
                        answer={"engine": request.param, "guard": False})
    with live_server(settings) as live:
        yield live


def _sync(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)


def _async(server: LiveServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)


def create(server: LiveServer, mode: str, **kwargs: Any) -> tuple[str, str | None, Any]:
    """(content, finish_reason, usage) of one completion through the SDK in `mode`:
    sync | async | sync-stream | async-stream (streams ask for usage)."""
    kwargs = {"model": "paperchat", "messages": MESSAGES, **kwargs}
    if mode == "sync":
        r = _sync(server).chat.completions.create(**kwargs)
        return r.choices[0].message.content or "", r.choices[0].finish_reason, r.usage
    if mode == "async":
        async def run() -> Any:
            async with _async(server) as client:
                return await client.chat.completions.create(**kwargs)
        r = asyncio.run(run())
        return r.choices[0].message.content or "", r.choices[0].finish_reason, r.usage
    kwargs.update(stream=True, stream_options={"include_usage": True})
    if mode == "sync-stream":
        chunks = list(_sync(server).chat.completions.create(**kwargs))
    else:
        async def collect() -> list[Any]:
            async with _async(server) as client:
                return [c async for c in await client.chat.completions.create(**kwargs)]
        chunks = asyncio.run(collect())
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices
              and c.choices[0].finish_reason]
    assert len(finish) == 1 and chunks[-1].choices == []
    assert all(c.usage is None for c in chunks[:-1])
    return content, finish[0], chunks[-1].usage


MODES = ["sync", "async", "sync-stream", "async-stream"]


@pytest.mark.parametrize("mode", MODES)
def test_max_tokens_cuts_the_reply_with_finish_reason_length(server: LiveServer,
                                                             mode: str) -> None:
    full, reason, usage = create(server, mode)
    assert reason == "stop" and "Sources:" in full
    assert usage.completion_tokens == count_tokens(full) > 5
    for kwargs, limit in (({"max_tokens": 5}, 5), ({"max_completion_tokens": 1}, 1),
                          ({"max_tokens": 9, "max_completion_tokens": 7}, 7)):
        content, reason, usage = create(server, mode, **kwargs)
        assert reason == "length" and full.startswith(content)
        assert count_tokens(content) == usage.completion_tokens == limit
        assert usage.total_tokens == usage.prompt_tokens + limit
        assert usage.prompt_tokens == count_tokens(QUESTION) + 6


@pytest.mark.parametrize("mode", MODES)
def test_stop_ends_the_reply_before_the_stop_string(server: LiveServer, mode: str) -> None:
    full, _, _ = create(server, mode)
    content, reason, usage = create(server, mode, stop=["\n\nSources:", "never there"])
    assert (content, reason) == (full.split("\n\nSources:")[0], "stop")
    assert usage.completion_tokens == count_tokens(content)
    content, _, _ = create(server, mode, stop="[2]")
    assert content == full.split("[2]")[0] and "[1]" in content


def test_citations_follow_what_was_sent(server: LiveServer) -> None:
    full = _sync(server).chat.completions.create(model="paperchat", messages=MESSAGES)
    cut = _sync(server).chat.completions.create(model="paperchat", messages=MESSAGES,
                                                stop=["[2]"])
    cited = [c["n"] for c in (full.model_extra or {})["citations"]]
    assert len(cited) >= 2
    assert [c["n"] for c in (cut.model_extra or {})["citations"]] == [1]


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"n": 2}, "n"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"logprobs": True}, "logprobs"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"n": "2"}, "n"),
    ({"stream": "yes"}, "stream"),
    ({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.org/x.png"}}]}]},
     "messages.0.content"),
])
@pytest.mark.parametrize("client", ["sync", "async"])
def test_what_the_server_cannot_do_is_a_400_naming_the_parameter(
        server: LiveServer, kwargs: dict[str, Any], param: str, client: str) -> None:
    kwargs = {"model": "paperchat", "messages": MESSAGES, **kwargs}
    with pytest.raises(openai.BadRequestError) as info:
        if client == "sync":
            _sync(server).chat.completions.create(**kwargs)
        else:
            async def run() -> None:
                async with _async(server) as c:
                    await c.chat.completions.create(**kwargs)
            asyncio.run(run())
    error = info.value
    assert error.status_code == 400 and error.param == param, error.body
    assert error.type == "invalid_request_error" and error.code


def test_defaults_of_those_parameters_are_fine(server: LiveServer) -> None:
    r = _sync(server).chat.completions.create(
        model="paperchat", messages=MESSAGES, n=1, tools=[], tool_choice="none",
        response_format={"type": "text"}, logprobs=False, temperature=0.2, top_p=0.9,
        seed=7, user="someone", presence_penalty=0.1)
    assert r.choices[0].finish_reason == "stop"


def test_errors_have_openai_types_and_codes(server: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        _sync(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert (missing.value.code, missing.value.param) == ("model_not_found", "model")
    wrong = openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        wrong.chat.completions.create(model="paperchat", messages=MESSAGES)
    assert denied.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as empty:
        _sync(server).chat.completions.create(model="paperchat", messages=[])
    assert empty.value.param == "messages"
    with pytest.raises(openai.NotFoundError):
        _sync(server).models.retrieve("gpt-4o")


def test_llama_index_honours_max_tokens(server: LiveServer) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(model="paperchat", api_base=server.base_url, api_key=API_KEY,
                     is_chat_model=True, context_window=8192, max_retries=0, max_tokens=5)
    reply = llm.chat([ChatMessage(role="user", content=QUESTION)])
    assert count_tokens(reply.message.content or "") == 5
    streamed = list(llm.stream_chat([ChatMessage(role="user", content=QUESTION)]))
    assert streamed[-1].message.content == reply.message.content


def test_langchain_chat_openai(server: LiveServer) -> None:
    from langchain_openai import ChatOpenAI

    def chat(**kwargs: Any) -> ChatOpenAI:
        return ChatOpenAI(model="paperchat", base_url=server.base_url, api_key=API_KEY,
                          max_retries=0, **kwargs)

    full = chat().invoke(QUESTION)
    assert "Sources:" in str(full.content)
    assert full.response_metadata["finish_reason"] == "stop"
    short = chat(max_tokens=5).invoke(QUESTION)
    assert short.response_metadata["finish_reason"] == "length"
    assert short.usage_metadata is not None and short.usage_metadata["output_tokens"] == 5
    streamed = "".join(str(c.content) for c in chat(stop=["\n\nSources:"]).stream(QUESTION))
    assert streamed == str(full.content).split("\n\nSources:")[0]
    with pytest.raises(openai.BadRequestError):
        chat(n=2).invoke(QUESTION)
