"""API keys never reach logs or error bodies (issue 7, hostile input).

PAPERCHAT_API_KEY, PAPERCHAT_ADMIN_KEY and OPENAI_API_KEY are set to distinctive values;
a run goes through every kind of failure (an LLM endpoint that rejects the key and echoes
it back, 5xx, a stream cut mid-answer, wrong and swapped bearer keys, malformed and
oversized uploads, unknown routes and ids). Every response (body and headers) and the
captured logs are scanned: a real `paperchat serve` subprocess at uvicorn's most verbose
level (`trace`), and the app in-process with every logger at DEBUG (caplog).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from rag.library import Library
from rag.settings import Settings
from server.app import create_app
from tests.conftest import make_papers
from tests.reliability.procs import ServeProcess, serve_env
from tests.utils.fake_openai import FakeOpenAI, fake_openai_server

API_KEY = "pc-API-k3y-zebra-5521-distinct"
ADMIN_KEY = "pc-ADMIN-k3y-okapi-9034-distinct"
OPENAI_KEY = "sk-OPENAI-k3y-narwhal-7713-distinct"
SECRETS = (API_KEY, ADMIN_KEY, OPENAI_KEY)
QUESTION = "What is known about protein language model?"

Call = Callable[..., httpx.Response]


def _leaks(text: str) -> list[str]:
    # The whole key, or a telling piece of it (a key cut short is still a leak).
    return [s for s in SECRETS if s in text or s[3:17] in text]


def _exercise(call: Call, fake: FakeOpenAI) -> list[httpx.Response]:
    """Every failure path we know of, through `call(method, path, **kwargs)`."""
    api = {"Authorization": f"Bearer {API_KEY}"}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    out: list[httpx.Response] = []
    ask = {"question": QUESTION}
    chat = {"model": "paperchat", "messages": [{"role": "user", "content": QUESTION}]}
    follow = {"model": "paperchat", "messages": [
        {"role": "user", "content": QUESTION}, {"role": "assistant", "content": "It is [1]."},
        {"role": "user", "content": "And the second one?"}]}

    def answers() -> None:
        out.extend([call("POST", "/v1/ask", json=ask, headers=api),
                    call("POST", "/v1/ask/stream", json=ask, headers=api),
                    call("POST", "/v1/chat/completions", json=chat, headers=api),
                    call("POST", "/v1/chat/completions", json={**chat, "stream": True},
                         headers=api),
                    call("POST", "/v1/chat/completions", json=follow, headers=api)])

    fake.api_key = "sk-the-endpoint-wants-another-key"  # 401 that echoes the key we sent
    answers()
    out.append(call("GET", "/readyz"))
    fake.api_key = None
    for status in (500, 429, 400, 404, 403):
        fake.fail(status, 6)
        answers()
        fake.failures.clear()
    fake.cut_stream_after = 2  # the answer breaks off after text went out
    answers()
    fake.cut_stream_after = None
    answers()  # and once more healthy
    # Keys: missing, wrong, swapped, in the wrong scheme.
    basic = "Basic " + base64.b64encode(f"user:{API_KEY}".encode()).decode()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY},
                    {"Authorization": basic}, {"Authorization": f"Bearer {OPENAI_KEY}"},
                    {"Authorization": f"Bearer {ADMIN_KEY}"},
                    {"Authorization": f"Bearer {API_KEY}x"}):
        out += [call("POST", "/v1/ask", json=ask, headers=headers),
                call("GET", "/v1/search", params={"q": "graph"}, headers=headers),
                call("POST", "/v1/ingest", json=[], headers=headers)]
    bad_upload = b'{"title": "broken", "abstract": \n'
    out += [call("POST", "/v1/ingest", files={"file": ("c.jsonl", bad_upload)}, headers=admin),
            call("POST", "/v1/ingest", files={"file": ("c.jsonl", b"x" * 9000)}, headers=admin),
            call("POST", "/v1/ingest", content=b"\xff\xfe", headers={
                **admin, "content-type": "application/json"}),
            call("POST", "/v1/ingest", json=[{"title": "t", "abstract": "a"}], headers=api),
            call("GET", "/v1/papers/nope", headers=api),
            call("GET", "/v1/sessions/nope", headers=api),
            call("PUT", "/v1/ask", headers=api), call("GET", "/nowhere"),
            call("POST", "/v1/ask", json={"question": "x" * 3000}, headers=api),
            call("POST", "/v1/ask", json={"question": QUESTION, "engine": "nope"},
                 headers=api),
            call("POST", "/v1/chat/completions", json={**chat, "model": "gpt-4"}, headers=api),
            call("GET", "/openapi.json"), call("GET", "/healthz")]
    return out


def _scan(responses: Iterable[httpx.Response]) -> list[tuple[int, str, list[str]]]:
    found = []
    for r in responses:
        text = r.text + json.dumps(dict(r.headers))
        if _leaks(text):
            found.append((r.status_code, text[:200], _leaks(text)))
    return found


@pytest.mark.slow  # a real server process
def test_serve_logs_and_responses_never_hold_a_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Library(Settings(home=home, embed={"provider": "fake"})).ingest(  # type: ignore[arg-type]
        make_papers(12))
    with fake_openai_server() as fake:
        env = serve_env(home, PAPERCHAT_API_KEY=API_KEY, PAPERCHAT_ADMIN_KEY=ADMIN_KEY,
                        OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=fake.base_url,
                        PAPERCHAT_LLM_TIMEOUT="2", PAPERCHAT_LLM_MAX_RETRIES="1",
                        PAPERCHAT_SERVER_MAX_UPLOAD_BYTES="4096")
        serve = ServeProcess(env, tmp_path / "serve.log", log_level="trace").start()
        try:
            with httpx.Client(base_url=serve.url, timeout=30) as http:
                responses = _exercise(http.request, fake)
        finally:
            serve.stop()
        sent_keys = {r["headers"].get("Authorization") for r in fake.requests}
    statuses = {r.status_code for r in responses}
    assert {200, 401, 404, 405, 413, 422, 503} <= statuses, statuses
    assert f"Bearer {OPENAI_KEY}" in sent_keys  # the key did go where it belongs
    assert _scan(responses) == []
    log = serve.output()
    assert "TRACE" in log and "LLM failed" in log  # the verbose log really was captured
    assert _leaks(log) == [], [line for line in log.splitlines() if _leaks(line)][:3]


def test_app_logs_at_debug_never_hold_a_key(settings: Settings, library: Library,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, openai, httpx, httpcore, chromadb
    with fake_openai_server() as fake:
        app = create_app(settings.with_overrides(
            api_key=API_KEY, admin_key=ADMIN_KEY, llm__api_key=OPENAI_KEY,
            llm__base_url=fake.base_url, llm__timeout=2, llm__max_retries=1,
            server__max_upload_bytes=4096))
        with TestClient(app, raise_server_exceptions=False) as client:

            def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
                return client.request(method, path, **kwargs)

            responses = _exercise(call, fake)
    assert _scan(responses) == []
    assert any(r.name.startswith("openai") for r in caplog.records)  # DEBUG really on
    leaked = [r.getMessage()[:200] for r in caplog.records if _leaks(r.getMessage())]
    assert leaked == []
    assert _leaks(caplog.text) == []
