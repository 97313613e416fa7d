"""Fuzzing the HTTP request bodies (issue 7, hostile input).

tests/server/test_schemathesis.py sends what the OpenAPI schema describes; here the bodies
are anything: wrong types, unknown keys, deep nesting, odd Unicode, raw bytes under any
content type, multipart uploads with any name and content. The contract: never a 5xx, and
every 4xx has the one error shape.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.library import Library
from rag.settings import Settings
from server.app import create_app

FAST = settings(max_examples=int(os.environ.get("FUZZ_N", "80")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

KEYS = ["question", "k", "engine", "session_id", "model", "messages", "role", "content",
        "stream", "stream_options", "include_usage", "title", "abstract", "papers", "id",
        "type", "text", "authors", "year", "url", "doi", "categories", "history"]
TEXT = (st.text(max_size=30)
        | st.sampled_from(["", " ", "\x00", "\ud7ff\ufeff", "paperchat", "llm", "extractive",
                           "auto", "user", "assistant", "system", "graph pretraining", "../x",
                           "<<<END SOURCES>>>", "[1]", "0" * 40, "NaN"]))
SCALAR = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
          | st.floats(allow_nan=False, allow_infinity=False) | TEXT)
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.sampled_from(KEYS) | TEXT, inner, max_size=5),
                     max_leaves=12)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "developer", "tool"]) | TEXT},
    optional={"content": TEXT | st.none() | st.lists(st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image_url"]) | TEXT},
        optional={"text": TEXT | SCALAR}), max_size=3) | SCALAR, "name": TEXT})
ASK = st.fixed_dictionaries({}, optional={
    "question": TEXT | SCALAR, "k": SCALAR, "engine": TEXT | SCALAR, "session_id": TEXT | SCALAR})
CHAT = st.fixed_dictionaries({"model": st.just("paperchat") | TEXT}, optional={
    "messages": st.lists(MESSAGE | VALUE, max_size=4), "stream": SCALAR,
    "stream_options": VALUE, "temperature": SCALAR})
PAPER = st.fixed_dictionaries({}, optional={
    k: TEXT | SCALAR | st.lists(TEXT, max_size=2)
    for k in ["id", "title", "abstract", "authors", "year", "url", "doi", "categories"]})


@pytest.fixture
def client(settings: Settings, library: Library) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def assert_contract(r: Any) -> None:
    """No 5xx; errors have the one shape; a 200 stream ends with done/error/[DONE]."""
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"error"} and isinstance(body["error"]["message"], str), body
        assert body["error"]["code"] and body["error"]["message"]
    elif r.headers.get("content-type", "").startswith("text/event-stream"):
        datas = [line[5:].strip() for line in r.text.splitlines() if line.startswith("data:")]
        assert datas, r.text[:300]
        last = datas[-1]
        assert last == "[DONE]" or json.loads(last).get("type") in ("done", "error") \
            or "error" in json.loads(last), last
    elif r.status_code != 204:
        r.json()


@FAST
@given(body=ASK | VALUE)
def test_ask_bodies(client: TestClient, body: Any) -> None:
    assert_contract(client.post("/v1/ask", json=body))
    assert_contract(client.post("/v1/ask/stream", json=body))


@FAST
@given(body=CHAT | VALUE)
def test_chat_completion_bodies(client: TestClient, body: Any) -> None:
    assert_contract(client.post("/v1/chat/completions", json=body))


@FAST
@given(body=st.lists(PAPER, max_size=4) | st.fixed_dictionaries({"papers": st.lists(
    PAPER, max_size=3) | VALUE}) | VALUE, prune=st.booleans())
def test_ingest_json_bodies(client: TestClient, body: Any, prune: bool) -> None:
    assert_contract(client.post("/v1/ingest", json=body, params={"prune": str(prune).lower()}))
    assert_contract(client.get("/v1/search", params={"q": "graph pretraining"}))


@FAST
@given(name=TEXT | st.sampled_from(["/etc/passwd", "../../x", "a\\b.jsonl", "c:\\x.csv",
                                    "\x00.bib", "."]),
       data=st.binary(max_size=300) | st.lists(PAPER, max_size=3).map(
           lambda ps: "\n".join(json.dumps(p) for p in ps).encode()),
       format=st.none() | st.sampled_from(["jsonl", "json", "csv", "bibtex", "beir", "arxiv",
                                           "trending", "yaml", "../x"]),
       field=st.sampled_from(["file", "file", "upload"]))
def test_multipart_uploads(client: TestClient, name: str, data: bytes, format: str | None,
                           field: str) -> None:
    params = {"format": format} if format else {}
    assert_contract(client.post("/v1/ingest", params=params, files={field: (name, data)}))


@FAST
@given(data=st.binary(max_size=200) | VALUE.map(lambda v: json.dumps(v).encode()),
       content_type=st.sampled_from(["application/json", "application/json; charset=latin-1",
                                     "text/plain", "multipart/form-data",
                                     "multipart/form-data; boundary=x",
                                     "application/x-www-form-urlencoded", "application/ld+json",
                                     ""]),
       path=st.sampled_from(["/v1/ask", "/v1/ask/stream", "/v1/chat/completions",
                             "/v1/ingest", "/v1/sessions"]))
def test_raw_bodies_under_any_content_type(client: TestClient, data: bytes, content_type: str,
                                           path: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert_contract(client.post(path, content=data, headers=headers))


@FAST
@given(q=TEXT, k=TEXT | SCALAR.map(str), mode=TEXT, session=TEXT, paper=TEXT, title=VALUE)
def test_query_strings_and_path_ids(client: TestClient, q: str, k: str, mode: str,
                                    session: str, paper: str, title: Any) -> None:
    assert_contract(client.get("/v1/search", params={"q": q, "k": k, "mode": mode}))
    assert_contract(client.get("/v1/search", params={"q": q}))
    assert_contract(client.get("/v1/papers", params={"offset": k, "limit": k}))
    paper, session = quote(paper, safe=""), quote(session, safe="")
    for path in (f"/v1/papers/{paper}", f"/v1/sessions/{session}"):
        assert_contract(client.get(path))
    assert_contract(client.patch(f"/v1/sessions/{session}", json={"title": title}))
    assert_contract(client.post("/v1/sessions", json={"title": title}))
