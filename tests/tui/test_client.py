"""HttpClient against scripted HTTP (httpx.MockTransport): SSE, error bodies, auth."""

from __future__ import annotations

import json

import httpx
import pytest

from rag.errors import PaperchatError
from rag.settings import Settings
from tui.client import HttpClient, ServerError, ServerUnavailable

URL = "http://paperchat.test"


def sse(*events: dict) -> bytes:
    """An SSE body as sse-starlette writes it, with a keep-alive comment in between."""
    parts = [f"event: {e['type']}\r\ndata: {json.dumps(e)}\r\n\r\n" for e in events]
    return ": ping\r\n\r\n".join(parts).encode()


def client(handler, settings: Settings | None = None) -> HttpClient:
    return HttpClient(URL, settings or Settings(), transport=httpx.MockTransport(handler))


def lines(*items: str) -> bytes:
    return "".join(f"{item}\n" for item in items).encode()


async def test_sse_data_joins_multiline_data_and_skips_comments() -> None:
    # The stream is read by httpx-sse; an event ends at a blank line (an unterminated
    # last event is dropped, as the SSE spec says), so this body ends with one.
    body = lines(": ping", "", "event: token", 'data: {"type":', 'data: "token", "text": "a"}',
                 "", 'data: {"type": "done", "answer": ""}', "")
    stream = client(lambda r: httpx.Response(200, content=body,
                                             headers={"content-type": "text/event-stream"}))
    got = [e.model_dump(mode="json", include={"type", "text"}) async for e in stream.astream("q")]
    assert got == [{"type": "token", "text": "a"}, {"type": "done"}]


async def test_stream_yields_events_in_order_and_sends_the_session() -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        body = sse({"type": "sources", "sources": []}, {"type": "token", "text": "Hi [1]"},
                   {"type": "citations", "citations": []}, {"type": "done", "answer": "Hi [1]"})
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    events = [e async for e in client(handler).astream("q?", session_id="s1")]
    assert [e.type for e in events] == ["sources", "token", "citations", "done"]
    assert events[1].data == {"text": "Hi [1]"}
    assert seen == [{"question": "q?", "session_id": "s1"}]


async def test_error_before_the_stream_is_the_servers_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"code": "not_found",
                                                   "message": "no chat session with id 'x'"}})

    with pytest.raises(ServerError, match="no chat session") as info:
        [e async for e in client(handler).astream("q", session_id="x")]
    assert info.value.code == "not_found" and info.value.status == 404


async def test_stream_cut_short_is_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse({"type": "token", "text": "half"}),
                              headers={"content-type": "text/event-stream"})

    with pytest.raises(ServerUnavailable, match="ended early"):
        [e async for e in client(handler).astream("q")]


async def test_api_key_is_sent_as_bearer_and_not_ready_is_explained() -> None:
    auth: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers.get("authorization"))
        return httpx.Response(503, json={"ready": False, "collection": "papers", "papers": 0,
                                         "embedder": "x", "llm": {}, "problem": "empty index"})

    settings = Settings(api_key="s3cret")  # type: ignore[arg-type]
    with pytest.raises(PaperchatError, match="not ready: empty index"):
        await client(handler, settings).start()
    assert auth == ["Bearer s3cret"]


def ready(engine: str | None, **extra: object) -> dict:
    return {"ready": True, "collection": "papers", "papers": 119,
            "embedder": "all-MiniLM-L6-v2", "engine": engine,
            "llm": {"configured": True, "reachable": True, "model": "gpt-4o-mini"}, **extra}


async def test_ready_server_reports_its_engine_model_and_papers() -> None:
    status = await client(lambda r: httpx.Response(200, json=ready("llm"))).start()
    assert (status.engine, status.model, status.papers) == ("llm", "gpt-4o-mini", 119)


async def test_status_shows_the_servers_engine_not_whether_an_llm_is_configured() -> None:
    # PAPERCHAT_ANSWER_ENGINE=extractive on a server that also has an LLM endpoint.
    status = await client(lambda r: httpx.Response(200, json=ready("extractive"))).start()
    assert (status.engine, status.model) == ("extractive", "all-MiniLM-L6-v2")


async def test_a_server_that_cannot_answer_is_not_ready() -> None:
    # answer.engine=llm without an endpoint: /readyz says engine null.
    with pytest.raises(PaperchatError, match="cannot answer questions"):
        await client(lambda r: httpx.Response(200, json=ready(None))).start()


async def test_server_without_the_engine_field_is_read_from_its_llm_status() -> None:
    body = ready("llm")
    del body["engine"]
    status = await client(lambda r: httpx.Response(200, json=body)).start()
    assert (status.engine, status.model) == ("llm", "gpt-4o-mini")


async def test_rename_on_a_server_without_the_route_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(405, json={"error": {"code": "method_not_allowed",
                                                   "message": "Method Not Allowed"}})

    with pytest.raises(PaperchatError, match="cannot rename"):
        await client(handler).rename_session("s1", "new")


async def test_connection_lost_mid_stream_is_server_unavailable_after_the_events_so_far(
        ) -> None:
    class CutStream(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield sse({"type": "sources", "sources": []}, {"type": "token", "text": "Half"})
            raise httpx.RemoteProtocolError("peer closed connection without sending a body")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=CutStream(),
                              headers={"content-type": "text/event-stream"})

    seen: list[str] = []
    with pytest.raises(ServerUnavailable, match="closed the connection mid-answer"):
        async for event in client(handler).astream("q"):
            seen.append(event.type)
    assert seen == ["sources", "token"]
