"""A client that leaves stops its answer; answer slots are bounded and come back.

Real uvicorn on loopback, the llm engine streaming from the fake OpenAI server, which
records whether it could send its stream to the end or saw it closed.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from rag.library import Library
from rag.settings import Settings
from tests.server.conftest import QUESTION
from tests.server.live import LiveServer, live_server
from tests.utils.fake_openai import FakeOpenAI, fake_openai_server

LONG_REPLY = " ".join(f"word{i} [1]" if i % 20 == 0 else f"word{i}" for i in range(400))
CHAT = {"model": "paperchat", "messages": [{"role": "user", "content": QUESTION}]}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai_server(default_reply=LONG_REPLY) as server:
        server.chunk_delay = 0.02  # 400 words: ~8 s if nobody stops it
        yield server


def abandon(server: LiveServer, path: str, body: dict[str, object], fake: FakeOpenAI) -> None:
    """Send a request, wait until its LLM request is under way, then hang up."""
    data = json.dumps(body).encode()
    asked = len(fake.chat_requests)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"POST /v1{path} HTTP/1.1\r\nHost: test\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
        assert fake.wait_for(lambda: len(fake.chat_requests) > asked, timeout=10)


def _serve(settings: Settings, fake: FakeOpenAI, **overrides: object) -> LiveServer:
    return live_server(settings.with_overrides(llm__base_url=fake.base_url,  # type: ignore[return-value]
                                               llm__max_retries=0, **overrides))


@pytest.mark.parametrize(("path", "body"), [("/ask", {"question": QUESTION}),
                                            ("/chat/completions", CHAT)])
def test_a_client_that_leaves_a_non_streamed_answer_cancels_the_generation(
        settings: Settings, library: Library, fake: FakeOpenAI, path: str,
        body: dict[str, object]) -> None:
    with _serve(settings, fake) as server:
        abandon(server, path, body, fake)
        # The LLM stream is closed within moments, far from its ~8 s to the end.
        assert fake.wait_for(lambda: fake.disconnects == 1, timeout=3.0)
        assert fake.completed_streams == 0
        # Nothing was saved or left running: the next request is served at once.
        t0 = time.monotonic()
        r = httpx.get(server.base_url + "/search", params={"q": "graph"}, timeout=10)
        assert r.status_code == 200 and time.monotonic() - t0 < 5


def test_an_abandoned_session_turn_is_not_saved(settings: Settings, library: Library,
                                                fake: FakeOpenAI) -> None:
    with _serve(settings, fake) as server:
        session = httpx.post(server.base_url + "/sessions", json={}).json()["id"]
        abandon(server, "/ask", {"question": QUESTION, "session_id": session}, fake)
        assert fake.wait_for(lambda: fake.disconnects == 1, timeout=3.0)
        detail = httpx.get(f"{server.base_url}/sessions/{session}").json()
        assert detail["messages"] == []


def test_answer_slots_are_bounded_and_freed(settings: Settings, library: Library,
                                            fake: FakeOpenAI) -> None:
    """One slot, no queue: a second answer is 503 at once with Retry-After, and gets its
    turn when the first stream is closed."""
    with _serve(settings, fake, server__max_answers=1, server__max_queued_answers=0) as server, \
            httpx.Client(base_url=server.base_url, timeout=10) as http:
        with http.stream("POST", "/ask/stream", json={"question": QUESTION}) as first:
            assert first.status_code == 200
            lines = first.iter_lines()  # kept: dropping the iterator closes the stream
            next(lines)
            assert fake.wait_for(lambda: len(fake.chat_requests) == 1)  # under way
            t0 = time.monotonic()
            for path, body in (("/ask", {"question": QUESTION}),
                               ("/ask/stream", {"question": QUESTION}),
                               ("/chat/completions", CHAT)):
                busy = http.post(path, json=body)
                assert busy.status_code == 503, busy.text
                assert busy.json()["error"]["code"] == "overloaded"
                assert busy.headers["retry-after"] == "1"
            assert time.monotonic() - t0 < 2  # refused at once, not queued
            assert http.get("/search", params={"q": "graph"}).status_code == 200
        assert fake.wait_for(lambda: fake.disconnects == 1, timeout=3.0)
        fake.chunk_delay = 0.0
        assert fake.wait_for(lambda: http.post("/ask", json={
            "question": QUESTION, "engine": "extractive"}).status_code == 200, timeout=3.0)


def test_queued_answers_wait_for_a_slot(settings: Settings, library: Library,
                                        fake: FakeOpenAI) -> None:
    import threading

    fake.default_reply, fake.chunk_delay = "A short answer [1] in six words.", 0.05
    with _serve(settings, fake, server__max_answers=1, server__max_queued_answers=5) as server:
        statuses: list[int] = []

        def ask() -> None:
            r = httpx.post(server.base_url + "/ask", json={"question": QUESTION}, timeout=30)
            statuses.append(r.status_code)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == [200] * 4
    assert fake.completed_streams == 4
