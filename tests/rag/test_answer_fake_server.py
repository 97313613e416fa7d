"""The fake OpenAI server itself, through the real openai client."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.utils.fake_openai import FakeOpenAI


def _client(fake: FakeOpenAI) -> Any:
    # Typed Any: the SDK's overloads want TypedDict messages; plain dicts are what we send.
    return openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)


def test_models_embeddings_and_recording(fake_openai: FakeOpenAI) -> None:
    client = _client(fake_openai)
    assert [m.id for m in client.models.list().data] == ["fake-model"]
    first = client.embeddings.create(model="e", input=["a", "b"], dimensions=16)
    again = client.embeddings.create(model="e", input="a", dimensions=16)
    assert len(first.data) == 2 and len(first.data[0].embedding) == 16
    assert first.data[0].embedding == again.data[0].embedding  # deterministic
    assert first.data[0].embedding != first.data[1].embedding
    paths = [r["path"] for r in fake_openai.requests]
    assert paths == ["/v1/models", "/v1/embeddings", "/v1/embeddings"]
    assert fake_openai.requests[1]["json"]["input"] == ["a", "b"]


def test_scripted_replies_plain_and_streamed(fake_openai: FakeOpenAI) -> None:
    client = _client(fake_openai)
    fake_openai.queue("first", lambda body: f"echo {body['messages'][-1]['content']}")
    msgs = [{"role": "user", "content": "hi there"}]
    plain = client.chat.completions.create(model="m", messages=msgs)
    assert plain.choices[0].message.content == "first"
    assert plain.usage is not None and plain.usage.prompt_tokens == 2
    chunks = list(client.chat.completions.create(
        model="m", messages=msgs, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo hi there"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert fake_openai.completed_streams == 1
    # The default reply when the queue is empty.
    again = client.chat.completions.create(model="m", messages=msgs)
    assert again.choices[0].message.content == fake_openai.default_reply


def test_injected_failures(fake_openai: FakeOpenAI) -> None:
    client = _client(fake_openai)
    msgs = [{"role": "user", "content": "x"}]
    fake_openai.fail(429)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=msgs)
    assert client.chat.completions.create(model="m", messages=msgs)
    fake_openai.api_key = "right"
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="m", messages=msgs)
