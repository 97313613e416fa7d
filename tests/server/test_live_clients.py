"""Real uvicorn on a loopback port; the official openai SDK and llama-index as clients."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from rag.settings import Settings
from rag.tokens import count_tokens
from tests.server.conftest import API_KEY
from tests.server.live import LiveServer, live_server

QUESTION = "How are vision transformers pretrained?"


@pytest.fixture(scope="module")
def server(bundled_fake_home: object) -> Iterator[LiveServer]:
    settings = Settings(home=bundled_fake_home, embed={"provider": "fake"},  # type: ignore[arg-type]
                        api_key=API_KEY)
    with live_server(settings) as live:
        yield live


@pytest.fixture
def sdk(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)


def test_openai_sdk_plain(sdk: openai.OpenAI) -> None:
    r = sdk.chat.completions.create(model="paperchat",
                                    messages=[{"role": "user", "content": QUESTION}])
    content = r.choices[0].message.content or ""
    assert "[1]" in content and "\n\nSources:\n[1] " in content
    citations = (r.model_extra or {})["citations"]
    assert citations and all(f"({c['paper_id']})" in content for c in citations)
    # Usage counts the messages sent and the content returned, whichever engine answered.
    assert r.usage is not None and r.usage.completion_tokens == count_tokens(content)
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert [m.id for m in sdk.models.list()] == ["paperchat"]


def test_openai_sdk_streaming(sdk: openai.OpenAI) -> None:
    plain = sdk.chat.completions.create(model="paperchat",
                                        messages=[{"role": "user", "content": QUESTION}])
    stream = sdk.chat.completions.create(model="paperchat", stream=True,
                                         messages=[{"role": "user", "content": QUESTION}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3 and text == plain.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert (last.model_extra or {})["citations"] == (plain.model_extra or {})["citations"]


def test_openai_sdk_follow_up_turn(sdk: openai.OpenAI) -> None:
    first = sdk.chat.completions.create(model="paperchat",
                                        messages=[{"role": "user", "content": QUESTION}])
    second_cited = (first.model_extra or {})["citations"][1]
    follow = sdk.chat.completions.create(model="paperchat", messages=[
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "What does the second paper find?"}])
    cited = [c["paper_id"] for c in (follow.model_extra or {})["citations"]]
    assert cited and cited[0] == second_cited["paper_id"]


def test_openai_sdk_errors(server: LiveServer, sdk: openai.OpenAI) -> None:
    wrong = openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="paperchat",
                                      messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-4o",
                                    messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(model="paperchat",
                                    messages=[{"role": "user", "content": "x" * 2001}])
    assert "2000" in info.value.message


def test_llama_index_openai_like(server: LiveServer) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(model="paperchat", api_base=server.base_url, api_key=API_KEY,
                     is_chat_model=True, context_window=8192, max_retries=0)
    reply = llm.chat([ChatMessage(role="user", content=QUESTION)])
    content = reply.message.content or ""
    assert "[1]" in content and "Sources:" in content
    streamed = list(llm.stream_chat([ChatMessage(role="user", content=QUESTION)]))
    assert len(streamed) > 3 and streamed[-1].message.content == content
    assert "Sources:" in llm.complete(QUESTION).text
