"""OpenAI-compatible /v1/models and /v1/chat/completions over TestClient."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from rag.answer.events import DoneEvent, Event, SourcesEvent
from rag.answer.models import Answer
from rag.tokens import count_tokens
from server.app import create_app
from server.deps import get_assistant
from server.openai_replies import sources_text, split_sources
from tests.server.conftest import QUESTION, MakeClient, assert_openai_error, parse_sse


def _chat(content: Any = QUESTION, **extra: Any) -> dict[str, Any]:
    return {"model": "paperchat", "messages": [{"role": "user", "content": content}], **extra}


def test_models_lists_paperchat(make_client: MakeClient) -> None:
    client = make_client()
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["paperchat"]
    assert client.get("/v1/models/paperchat").json()["id"] == "paperchat"
    assert_openai_error(client.get("/v1/models/gpt-4"), 404, "model_not_found")


def test_reply_has_markers_sources_and_citations(make_client: MakeClient) -> None:
    client = make_client()
    body = client.post("/v1/chat/completions", json=_chat()).json()
    content = body["choices"][0]["message"]["content"]
    assert body["object"] == "chat.completion" and body["model"] == "paperchat"
    assert body["choices"][0]["finish_reason"] == "stop"
    answer = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert content == answer["answer"] + sources_text(answer["citations"])
    assert body["citations"] == answer["citations"]
    listed = re.findall(r"^\[(\d+)\] .+ \((\S+)\)$", content.split("Sources:\n")[1], re.M)
    assert [(int(n), pid) for n, pid in listed] == \
        [(c["n"], c["paper_id"]) for c in body["citations"]]
    # The messages sent and the content returned, counted the same way for both engines;
    # what the engine itself spent (nothing: no model ran) is paperchat.usage.
    assert body["usage"] == {"prompt_tokens": count_tokens(QUESTION) + 6,
                             "completion_tokens": count_tokens(content),
                             "total_tokens": count_tokens(QUESTION) + 6 + count_tokens(content)}
    assert body["paperchat"]["usage"] == {}


def test_stream_chunks_match_the_plain_reply(make_client: MakeClient) -> None:
    client = make_client()
    plain = client.post("/v1/chat/completions", json=_chat()).json()
    r = client.post("/v1/chat/completions",
                    json=_chat(stream=True, stream_options={"include_usage": True}))
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    assert all(name is None for name, _ in events) and events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    final = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(final) == 1 and final[0]["citations"] == plain["citations"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == plain["usage"]


def test_content_parts_are_accepted(make_client: MakeClient) -> None:
    r = make_client().post("/v1/chat/completions",
                           json=_chat([{"type": "text", "text": QUESTION}]))
    assert r.status_code == 200 and "Sources:" in r.json()["choices"][0]["message"]["content"]


def test_request_errors(make_client: MakeClient) -> None:
    client = make_client()
    chat = "/v1/chat/completions"
    assert_openai_error(client.post(chat, json={**_chat(), "model": "gpt-4o"}), 404,
                        "model_not_found", param="model")
    assert_openai_error(client.get("/v1/models/gpt-4"), 404, "model_not_found")
    no_user = {"model": "paperchat", "messages": [{"role": "system", "content": "be nice"}]}
    assert_openai_error(client.post(chat, json=no_user), 400, param="messages")
    assert_openai_error(client.post(chat, json=_chat("q" * 2001)), 400, param="messages")
    assert_openai_error(client.post(chat, json=_chat("q" * 2001, stream=True)), 400)
    assert_openai_error(client.post(chat, json={"model": "paperchat", "messages": []}), 400,
                        param="messages")
    assert_openai_error(client.post(chat, json={"messages": []}), 400,
                        "missing_required_parameter", param="model")
    r = client.post(chat, content=b'{"model": ', headers={"content-type": "application/json"})
    assert "not valid JSON" in assert_openai_error(r, 400, "invalid_json")["message"]


class _Recorder:
    """An Assistant stand-in that records what it is asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def resolve_engine(self, engine: str | None = None) -> str:
        return "extractive"

    async def aask(self, question: str, **kwargs: Any) -> Answer:
        self.calls.append((question, kwargs.get("history")))
        return Answer(question=question, answer="ok")

    async def astream(self, question: str, **kwargs: Any) -> AsyncIterator[Event]:
        self.calls.append((question, kwargs.get("history")))
        yield SourcesEvent(sources=[])
        yield DoneEvent.of(Answer(question=question, answer="ok"))


def test_last_user_message_is_the_question_earlier_turns_the_history(
        make_client: MakeClient) -> None:
    client = make_client()
    recorder = _Recorder()

    async def provide() -> _Recorder:
        return recorder

    client.app.dependency_overrides[get_assistant] = provide  # type: ignore[attr-defined]
    earlier = "GNNs are pretrained [1].\n\nSources:\n[1] Paper 0 on graphs (p0)"
    messages = [{"role": "system", "content": "You are terse."},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": earlier},
                {"role": "user", "content": "what about the first one?"}]
    for stream in (False, True):
        r = client.post("/v1/chat/completions",
                        json={"model": "paperchat", "messages": messages, "stream": stream})
        assert r.status_code == 200
    expected_history = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "GNNs are pretrained [1].",
         "citations": [{"n": 1, "title": "Paper 0 on graphs", "paper_id": "p0"}]}]
    assert recorder.calls == [("what about the first one?", expected_history)] * 2


def test_sources_round_trip() -> None:
    cites = [{"n": 1, "title": "A (b) c", "paper_id": "a-b-c-123"},
             {"n": 2, "title": "Second", "paper_id": "2401.00001"}]
    assert split_sources("Answer [1] [2]." + sources_text(cites)) == ("Answer [1] [2].", cites)
    assert split_sources("no list here") == ("no list here", [])
    odd = "x\n\nSources:\nsomething else"
    assert split_sources(odd) == (odd, [])


def test_app_factory_has_no_shared_state(make_client: MakeClient) -> None:
    from rag.settings import Settings

    a = create_app(Settings(embed={"provider": "fake"}))  # type: ignore[arg-type]
    b = create_app(Settings(embed={"provider": "fake"},  # type: ignore[arg-type]
                            server={"max_question_chars": 10}))
    limit = a.openapi()["components"]["schemas"]["AskRequest"]["properties"]["question"]
    other = b.openapi()["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert (limit["maxLength"], other["maxLength"]) == (2000, 10)


def test_every_operation_is_documented(make_client: MakeClient) -> None:
    doc = make_client().get("/openapi.json").json()
    operations = [(path, method, op) for path, ops in doc["paths"].items()
                  for method, op in ops.items()]
    assert len(operations) == 17  # HEAD /healthz is the newest
    for path, method, op in operations:
        assert op.get("description") or op.get("summary"), f"{method} {path}"
        assert len(op.get("description", "")) > 20, f"{method} {path} has no docstring"
