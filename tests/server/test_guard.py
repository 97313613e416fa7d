"""The grounding guard through the HTTP front ends: /v1/ask, the SSE stream (a `reset` event)
and the OpenAI-compatible route (a visible note, then the replacement), and <think> blocks
kept out of both."""

from __future__ import annotations

import json

from server.openai_replies import WITHDRAWN
from tests.server.conftest import QUESTION, MakeClient, parse_sse
from tests.utils.fake_openai import fake_openai_server

UNGROUNDED = "Graph pretraining is mostly about bananas and weather."


def _llm(url: str) -> dict[str, object]:
    return {"llm__base_url": url, "llm__max_retries": 0, "answer__guard": True}


def test_ask_returns_the_extractive_replacement(make_client: MakeClient) -> None:
    with fake_openai_server(default_reply=UNGROUNDED) as fake:
        body = make_client(**_llm(fake.base_url)).post("/v1/ask",
                                                       json={"question": QUESTION}).json()
    assert body["degraded"] is True and body["engine"] == "extractive"
    assert "cited none of the retrieved papers" in body["notice"]
    assert UNGROUNDED not in body["answer"] and body["citations"]


def test_sse_stream_sends_reset_then_the_replacement(make_client: MakeClient) -> None:
    with fake_openai_server(default_reply=UNGROUNDED) as fake:
        r = make_client(**_llm(fake.base_url)).post("/v1/ask/stream",
                                                    json={"question": QUESTION})
    events = [(name, json.loads(data)) for name, data in parse_sse(r.text)]
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-2:] == ["citations", "done"]
    i = names.index("reset")
    before = "".join(d["text"] for n, d in events[:i] if n == "token")
    after = "".join(d["text"] for n, d in events[i + 1:] if n == "token")
    done = events[-1][1]
    assert before == UNGROUNDED and after == done["answer"]
    assert events[i][1] == {"type": "reset", "reason": done["notice"]}


def test_openai_stream_shows_the_withdrawal_then_the_replacement(
        make_client: MakeClient) -> None:
    with fake_openai_server(default_reply=UNGROUNDED) as fake:
        client = make_client(**_llm(fake.base_url))
        chat = {"model": "paperchat", "messages": [{"role": "user", "content": QUESTION}]}
        plain = client.post("/v1/chat/completions", json=chat).json()
        r = client.post("/v1/chat/completions", json={**chat, "stream": True})
    chunks = [json.loads(d) for _, d in parse_sse(r.text)[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c["choices"])
    notice = plain["paperchat"]["notice"]
    reply = plain["choices"][0]["message"]["content"]
    assert UNGROUNDED not in reply and plain["paperchat"]["degraded"] is True
    assert text == UNGROUNDED + WITHDRAWN.format(reason=notice) + reply
    assert plain["usage"]["completion_tokens"] > 0  # a model ran before it was withdrawn


def test_think_blocks_never_reach_http_clients(make_client: MakeClient) -> None:
    reply = "<think>Maybe cite [2]? No.</think>Graph pretraining uses contrastive views [1]."
    with fake_openai_server(default_reply=reply) as fake:
        fake.chunk_chars = 4
        client = make_client(llm__base_url=fake.base_url, llm__max_retries=0)
        r = client.post("/v1/ask/stream", json={"question": QUESTION})
        chat = client.post("/v1/chat/completions", json={
            "model": "paperchat", "messages": [{"role": "user", "content": QUESTION}]}).json()
    events = [json.loads(data) for _, data in parse_sse(r.text)]
    tokens = "".join(e["text"] for e in events if e["type"] == "token")
    assert tokens == events[-1]["answer"] == "Graph pretraining uses contrastive views [1]."
    assert "think" not in chat["choices"][0]["message"]["content"]
