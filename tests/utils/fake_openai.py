"""A small OpenAI-compatible HTTP server on loopback for tests (no network, no model).

Runs in a background thread; the real `openai` client talks to it over real HTTP.
- POST /v1/chat/completions: plain or streamed (SSE `chat.completion.chunk`s, plus a final
  usage chunk when `stream_options.include_usage`); replies come from a queue of strings or
  callables `(request_json) -> str`, else from `default_reply`.
- GET /v1/models, POST /v1/embeddings (deterministic vectors).
- `reasoning`: text sent as a reasoning model's thinking in a separate delta field
  (`reasoning_field`, default `reasoning_content`, as llama.cpp and vLLM do) before the
  content, and on the non-streamed message.
- Injected failures: `fail(status, times)` for the next requests, `delay` seconds before
  answering, `chunk_delay` between streamed chunks, `api_key` to demand a key (401 if wrong).
- `requests` records every request (path, headers, json); `disconnects` counts clients that
  hung up mid-response; `completed_streams` counts streams sent to the end.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | Callable[[dict[str, Any]], str]
MODEL = "fake-model"


def _split_words(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text) or [text]


class FakeOpenAI:
    """State and controls of one fake server; see the module docstring."""

    def __init__(self, *, default_reply: Reply = "The sources discuss this [1].",
                 api_key: str | None = None) -> None:
        self.default_reply = default_reply
        self.api_key = api_key
        self.replies: deque[Reply] = deque()
        self.failures: deque[int] = deque()
        self.retry_after_ms: int | None = 10  # keeps the client's backoff short in tests
        self.delay = 0.0
        self.chunk_delay = 0.0
        self.chunk_chars: int | None = None  # None: one chunk per word
        self.cut_stream_after: int | None = None  # drop the connection after n content chunks
        self.reasoning: str | None = None
        self.reasoning_field = "reasoning_content"
        self.requests: list[dict[str, Any]] = []
        self.disconnects = 0
        self.completed_streams = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- controls -------------------------------------------------------------
    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def fail(self, status: int, times: int = 1) -> None:
        self.failures.extend([status] * times)

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat-completion requests received, in order."""
        return [r["json"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def start(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
        """Poll until predicate() is true (e.g. a disconnect was seen)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    # -- used by the handler ----------------------------------------------------
    def _next_reply(self, body: dict[str, Any]) -> str:
        with self._lock:
            reply = self.replies.popleft() if self.replies else self.default_reply
        return reply(body) if callable(reply) else reply

    def _next_failure(self) -> int | None:
        with self._lock:
            return self.failures.popleft() if self.failures else None

    def _chunks(self, text: str) -> list[str]:
        if self.chunk_chars:
            return [text[i:i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        return _split_words(text)


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    # -- plumbing -------------------------------------------------------------
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None
                   ) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.fake.disconnects += 1
            self.close_connection = True

    def _error(self, status: int, message: str, kind: str) -> None:
        headers = {}
        if self.fake.retry_after_ms is not None and (status == 429 or status >= 500):
            headers["retry-after-ms"] = str(self.fake.retry_after_ms)
        self._send_json(status, {"error": {"message": message, "type": kind, "code": kind}},
                        headers)

    def _record(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        self.fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                   "json": body})
        return body

    def _gate(self) -> bool:
        """Apply delay, key check and injected failures; True if the request may proceed."""
        fake = self.fake
        if fake.delay:
            time.sleep(fake.delay)
        auth = self.headers.get("Authorization", "")
        if fake.api_key is not None and auth != f"Bearer {fake.api_key}":
            given = auth.removeprefix("Bearer ")
            # Like some real servers, echo the key: the client must never show this text.
            self._error(401, f"Incorrect API key provided: {given}", "invalid_api_key")
            return False
        status = fake._next_failure()
        if status is not None:
            self._error(status, f"injected failure {status}", "fake_failure")
            return False
        return True

    # -- routes ---------------------------------------------------------------
    def do_GET(self) -> None:
        self.fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                   "json": None})
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "fake"}]})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        body = self._record()
        if body is None:
            self._error(400, "body is not JSON", "invalid_request_error")
            return
        if not self._gate():
            return
        if self.path.endswith("/chat/completions"):
            self._chat(body)
        elif self.path.endswith("/embeddings"):
            self._embeddings(body)
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def _chat(self, body: dict[str, Any]) -> None:
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            self._error(400, "messages is required", "invalid_request_error")
            return
        text = self.fake._next_reply(body)
        model = body.get("model", MODEL)
        if not body.get("stream"):
            self._send_json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model, "usage": _usage(body, text),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text,
                                         **self._reasoning()}}]})
            return
        self._stream(body, text, model)

    def _stream(self, body: dict[str, Any], text: str, model: str) -> None:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                    "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        events = [chunk({"role": "assistant", "content": ""})]
        if self.fake.reasoning:
            events += [chunk({"content": None, self.fake.reasoning_field: piece})
                       for piece in self.fake._chunks(self.fake.reasoning)]
        events += [chunk({"content": piece}) for piece in self.fake._chunks(text)]
        events.append(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                           "created": int(time.time()), "model": model, "choices": [],
                           "usage": _usage(body, text)})
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for i, event in enumerate(events):
                if i and self.fake.chunk_delay:
                    time.sleep(self.fake.chunk_delay)
                if self.fake.cut_stream_after is not None and i > self.fake.cut_stream_after:
                    return  # hang up mid-body: the client sees an incomplete chunked read
                self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
            self._write_chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            self.fake.completed_streams += 1
        except (BrokenPipeError, ConnectionResetError):
            self.fake.disconnects += 1

    def _reasoning(self) -> dict[str, str]:
        return {self.fake.reasoning_field: self.fake.reasoning} if self.fake.reasoning else {}

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        dims = int(body.get("dimensions") or 8)
        data = [{"object": "embedding", "index": i, "embedding": _vector(str(t), dims)}
                for i, t in enumerate(texts)]
        self._send_json(200, {"object": "list", "data": data, "model": body.get("model"),
                              "usage": {"prompt_tokens": 0, "total_tokens": 0}})


def _vector(text: str, dims: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i % len(digest)] / 255.0) - 0.5 for i in range(dims)]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [x / norm for x in raw]


@contextmanager
def fake_openai_server(**kwargs: Any) -> Iterator[FakeOpenAI]:
    """Start a FakeOpenAI on a free loopback port for the duration of the block."""
    fake = FakeOpenAI(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
