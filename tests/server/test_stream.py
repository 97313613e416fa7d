"""POST /v1/ask/stream: Server-Sent Events carrying the answer's event model."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from rag.settings import Settings
from tests.server.conftest import QUESTION, MakeClient, assert_error, parse_sse
from tests.server.live import live_server
from tests.utils.fake_openai import fake_openai_server

LLM_KEY = "sk-llm-SECRET-abcdef0123456789"


def test_events_in_order_and_tokens_make_the_answer(make_client: MakeClient) -> None:
    client = make_client()
    r = client.post("/v1/ask/stream", json={"question": QUESTION})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    types = [name for name, _ in events]
    assert types[0] == "sources" and types[-2:] == ["citations", "done"]
    assert set(types[1:-2]) == {"token"}
    datas = [json.loads(d) for _, d in events]
    assert all(d["type"] == t for d, t in zip(datas, types, strict=True))
    done = datas[-1]
    assert "".join(d["text"] for d in datas if d["type"] == "token") == done["answer"]
    assert datas[-2]["citations"] == done["citations"]
    whole = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert done["answer"] == whole["answer"] and done["citations"] == whole["citations"]


def test_problems_before_the_stream_are_json_errors(make_client: MakeClient) -> None:
    client = make_client()
    assert_error(client.post("/v1/ask/stream", json={"question": QUESTION,
                                                     "session_id": "missing"}), 404)
    assert_error(client.post("/v1/ask/stream", json={"question": "x" * 2001}), 422)
    assert_error(client.post("/v1/ask/stream", json={"question": QUESTION, "k": 99}), 422)


def test_llm_failure_mid_stream_is_an_error_event(make_client: MakeClient) -> None:
    with fake_openai_server() as fake:
        fake.fail(500, times=10)
        client = make_client(llm__base_url=fake.base_url, llm__api_key=LLM_KEY,
                             llm__max_retries=0, llm__fallback_extractive=False)
        r = client.post("/v1/ask/stream", json={"question": QUESTION})
        url = fake.base_url
    events = parse_sse(r.text)
    assert [name for name, _ in events] == ["sources", "error"]
    error = json.loads(events[-1][1])
    assert error["code"] == "llm_unavailable" and error["message"]
    assert LLM_KEY not in r.text and url not in r.text


def test_client_disconnect_cancels_the_generation(settings: Settings, library: object) -> None:
    """Hang up after the first token: the server must close its stream to the LLM."""
    words = " ".join(f"word{i}" for i in range(200))
    with fake_openai_server(default_reply=f"{words} [1].") as fake:
        fake.chunk_delay = 0.05  # 200 chunks: ~10 s if nobody stops it
        llm = settings.with_overrides(llm__base_url=fake.base_url, llm__max_retries=0)
        with live_server(llm) as server, httpx.Client(timeout=10) as http:
            with http.stream("POST", f"{server.base_url}/ask/stream",
                             json={"question": QUESTION}) as r:
                for line in r.iter_lines():
                    if line == "event: token":
                        break
            started = time.monotonic()
            assert fake.wait_for(lambda: fake.disconnects == 1, timeout=5)
            assert time.monotonic() - started < 5
        assert fake.completed_streams == 0


def test_openai_stream_closed_by_the_client_cancels_the_generation(
        settings: Settings, library: object) -> None:
    import openai

    words = " ".join(f"word{i}" for i in range(200))
    with fake_openai_server(default_reply=f"{words} [1].") as fake:
        fake.chunk_delay = 0.05
        llm = settings.with_overrides(llm__base_url=fake.base_url, llm__max_retries=0)
        with live_server(llm) as server:
            sdk = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
            stream = sdk.chat.completions.create(
                model="paperchat", stream=True,
                messages=[{"role": "user", "content": QUESTION}])
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            stream.close()
            assert fake.wait_for(lambda: fake.disconnects == 1, timeout=5)
        assert fake.completed_streams == 0


def test_openai_stream_error_reaches_the_sdk_without_secrets(settings: Settings,
                                                             library: object) -> None:
    import openai

    with fake_openai_server() as fake:
        fake.fail(500, times=10)
        llm = settings.with_overrides(llm__base_url=fake.base_url, llm__api_key=LLM_KEY,
                                      llm__max_retries=0, llm__fallback_extractive=False)
        with live_server(llm) as server:
            sdk = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
            stream = sdk.chat.completions.create(
                model="paperchat", stream=True,
                messages=[{"role": "user", "content": QUESTION}])
            with pytest.raises(openai.APIError) as info:
                list(stream)
        url = fake.base_url
    assert "language model endpoint is unavailable" in info.value.message
    assert LLM_KEY not in info.value.message and url not in info.value.message
