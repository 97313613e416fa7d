"""The server's edges: the key is checked before the body is read, per-route body limits,
HEAD /healthz, over-long ids and invisible-only questions."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.settings import Settings
from server.app import create_app
from tests.server.conftest import (
    API_KEY,
    QUESTION,
    MakeClient,
    assert_error,
    assert_openai_error,
)
from tests.server.live import live_server

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_no_key_and_a_truncated_body_is_401_not_a_parse_error(make_client: MakeClient) -> None:
    client = make_client(api_key=API_KEY)
    for path in ("/v1/ask", "/v1/ask/stream", "/v1/sessions"):
        r = client.post(path, content=b'{"question": "How do', headers={
            "content-type": "application/json"})
        assert_error(r, 401, "unauthorized")
    r = client.post("/v1/chat/completions", content=b'{"model": "paperchat", "messa',
                    headers={"content-type": "application/json"})
    assert_openai_error(r, 401, "invalid_api_key")
    r = client.post("/v1/ask", content=b'{"question": "How do', headers={
        "content-type": "application/json", **AUTH})
    error = assert_error(r, 422, "invalid_input")  # with the key, the body is read
    assert "not valid JSON" in error["message"] and "(character 13)" in error["message"]


def _asgi_call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[
        int, dict[bytes, bytes], int]:
    """Call the ASGI app directly; returns (status, headers, how often it read the body)."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "state": {}}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"]), reads


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/chat/completions", "/v1/ingest"])
def test_a_large_body_without_a_key_is_never_read(settings: Settings, path: str) -> None:
    """17 MB announced, no key: 401 from the headers alone, the body is not touched and the
    connection is closed instead of drained."""
    app = create_app(settings.with_overrides(api_key=API_KEY, admin_key="a" * 24))
    headers = [(b"content-type", b"application/json"), (b"content-length", b"17000000")]
    status, sent_headers, reads = _asgi_call(app, path, headers)
    assert (status, reads) == (401, 0)
    assert sent_headers[b"connection"] == b"close"
    status, _, reads = _asgi_call(app, path, [*headers, (b"authorization", b"Bearer nope")])
    assert (status, reads) == (401, 0)


def test_over_real_http_the_401_comes_before_the_body_is_sent(settings: Settings,
                                                              library: object) -> None:
    """A client that announces 17 MB and sends only the first bytes still gets its 401."""
    with live_server(settings.with_overrides(api_key=API_KEY)) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 17000000\r\n\r\n" + b'{"question": "' +
                     b"a" * 1000)
        reply = b""
        while chunk := sock.recv(65536):  # the server closes the connection after it
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401") and b"connection: close" in head.lower()
    assert json.loads(body)["error"]["code"] == "unauthorized"


def test_question_routes_have_a_small_body_limit(make_client: MakeClient) -> None:
    client = make_client()
    padding = " " * (70 * 1024)
    big = json.dumps({"question": QUESTION, "engine": "extractive"}) + padding
    for path in ("/v1/ask", "/v1/ask/stream", "/v1/sessions"):
        r = client.post(path, content=big, headers={"content-type": "application/json"})
        assert_error(r, 413, "payload_too_large")

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"question": "' + QUESTION.encode() + b'"'
        for _ in range(70):
            yield b" " * 1024
        yield b"}"

    r = client.post("/v1/ask", content=chunked(), headers={"content-type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    # The conversation route takes a long history; ingest its own (larger) limit.
    history = [{"role": "user", "content": "earlier question " * 100},
               {"role": "assistant", "content": "earlier answer " * 100}] * 30
    chat = {"model": "paperchat", "messages": [*history, {"role": "user", "content": QUESTION}]}
    assert len(json.dumps(chat)) > 70 * 1024
    assert client.post("/v1/chat/completions", json=chat).status_code == 200
    papers = [{"title": f"Long paper {i}", "abstract": "words " * 200} for i in range(80)]
    assert len(json.dumps(papers)) > 70 * 1024
    assert client.post("/v1/ingest", json=papers).status_code == 200


def test_head_healthz(make_client: MakeClient) -> None:
    r = make_client(api_key=API_KEY).head("/healthz")
    assert r.status_code == 200 and r.content == b""


def test_overlong_ids_are_rejected_without_being_echoed(make_client: MakeClient) -> None:
    client = make_client()
    long_id = "Z" * 5000
    for r in (client.get(f"/v1/sessions/{long_id}"),
              client.patch(f"/v1/sessions/{long_id}", json={"title": "x"}),
              client.delete(f"/v1/sessions/{long_id}"),
              client.get(f"/v1/papers/{long_id}")):
        error = assert_error(r, 422)
        assert "Z" * 100 not in r.text and len(error["message"]) < 300
    r = client.get(f"/v1/models/{long_id}")
    assert_openai_error(r, 400, param="model")
    assert "Z" * 100 not in r.text
    r = client.post("/v1/ask", json={"question": QUESTION, "session_id": long_id})
    assert_error(r, 422)
    assert "Z" * 100 not in r.text


@pytest.mark.parametrize("question", ["\ufeff", "\u200b", " \ufeff\u200b\u200d\n",
                                      "\u2060\u00ad"])
def test_invisible_only_questions_are_rejected(make_client: MakeClient, question: str) -> None:
    client = make_client()
    assert_error(client.post("/v1/ask", json={"question": question}), 422)
    assert_error(client.post("/v1/ask/stream", json={"question": question}), 422)
    assert_openai_error(client.post("/v1/chat/completions", json={
        "model": "paperchat", "messages": [{"role": "user", "content": question}]}), 400)
    assert_error(client.get("/v1/search", params={"q": question}), 422)


def test_a_bom_before_a_real_question_is_fine(make_client: MakeClient) -> None:
    r = make_client().post("/v1/ask", json={"question": "\ufeff" + QUESTION})
    assert r.status_code == 200 and r.json()["citations"]


def test_app_without_lifespan_state_has_no_shared_slots(settings: Settings) -> None:
    """Each app (and each lifespan) has its own answer slots."""
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        assert a.app.state.slots is not b.app.state.slots  # type: ignore[attr-defined]
