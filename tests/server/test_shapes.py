"""One shape per record: the CLI's --json and the HTTP API print the same JSON, and the
request models are strict (a JSON `true` is not a k of 1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from paperchat.main import app
from rag.library import Library
from tests.server.conftest import QUESTION, MakeClient, assert_error, parse_sse

HIT_KEYS = {"rank", "paper_id", "title", "score", "snippet"}
CITATION_KEYS = {"n", "paper_id", "title", "snippet", "support"}
ANSWER_KEYS = {"question", "answer", "citations", "refused", "engine", "degraded", "usage",
               "timings", "unsupported"}
INGEST_KEYS = {"collection", "papers", "added", "updated", "unchanged", "removed",
               "backfilled", "chunks", "seconds"}
SESSION_KEYS = {"id", "title", "created_at", "updated_at", "message_count"}
MESSAGE_KEYS = {"role", "content", "citations", "created_at"}


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def without_timings(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "timings"}


def test_search_and_papers_json_is_one_shape(make_client: MakeClient, library: Library
                                             ) -> None:
    client = make_client()
    cli = cli_json("search", "protein language model", "-k", "3")
    api = client.get("/v1/search", params={"q": "protein language model", "k": 3}).json()
    assert set(cli) == set(api) == {"query", "results", "timings"}
    assert {frozenset(h) for h in cli["results"] + api["results"]} == {frozenset(HIT_KEYS)}
    assert without_timings(cli) == without_timings(api)

    listed = cli_json("papers")
    page = client.get("/v1/papers", params={"limit": 500}).json()
    assert set(listed) == {"collection", "count", "papers"}
    assert set(page) == set(listed) | {"offset", "limit"}
    assert listed["papers"] == page["papers"]
    assert set(listed["papers"][0]) == {"paper_id", "title", "year", "authors"}
    detail = client.get(f"/v1/papers/{listed['papers'][0]['paper_id']}").json()
    assert set(detail) == {"paper_id", "title", "abstract", "authors", "year", "url", "doi",
                           "categories"}


def test_answer_json_is_one_shape_in_cli_api_and_stream(make_client: MakeClient,
                                                        library: Library) -> None:
    client = make_client()
    cli = cli_json("ask", QUESTION, "--engine", "extractive")
    api = client.post("/v1/ask", json={"question": QUESTION, "engine": "extractive"}).json()
    assert set(cli) == set(api) == ANSWER_KEYS
    assert {frozenset(c) for c in cli["citations"] + api["citations"]} == {
        frozenset(CITATION_KEYS)}
    assert without_timings(cli) == without_timings(api)

    r = client.post("/v1/ask/stream", json={"question": QUESTION, "engine": "extractive"})
    events = [(name, json.loads(data)) for name, data in parse_sse(r.text)]
    assert all(name == data["type"] for name, data in events)
    sources, *tokens, citations, done = (data for _, data in events)
    assert set(sources) == {"type", "sources"}
    assert set(sources["sources"][0]) == {"n", "paper_id", "title", "snippet", "score"}
    assert all(set(t) == {"type", "text"} for t in tokens)
    assert set(citations) == {"type", "citations"}
    assert set(done) == ANSWER_KEYS | {"type"}
    assert without_timings(done) == {"type": "done", **without_timings(api)}


def test_ingest_json_shape_cli_and_api(make_client: MakeClient, library: Library,
                                       tmp_path: Any) -> None:
    papers = tmp_path / "new.jsonl"
    papers.write_text(json.dumps({"id": "cats1", "title": "Feline vocal communication",
                                  "abstract": "Purring cats."}) + "\n")
    # The CLI prints the counts (its warnings go to stderr); the API adds the parse's
    # duplicates and warnings.
    assert set(cli_json("ingest", str(papers))) == INGEST_KEYS
    api = make_client().post("/v1/ingest", json=[{"title": "Canine agility",
                                                  "abstract": "Dogs."}]).json()
    assert set(api) == INGEST_KEYS | {"duplicates", "warnings"}
    assert (api["added"], api["papers"], api["duplicates"], api["warnings"]) == (1, 14, 0, [])


def test_session_shapes(make_client: MakeClient) -> None:
    client = make_client()
    created = client.post("/v1/sessions", json={"title": "Shapes"}).json()
    assert set(created) == SESSION_KEYS
    client.post("/v1/ask", json={"question": QUESTION, "session_id": created["id"]})
    listed = client.get("/v1/sessions").json()
    assert set(listed) == {"sessions"} and set(listed["sessions"][0]) == SESSION_KEYS
    full = client.get(f"/v1/sessions/{created['id']}").json()
    assert set(full) == SESSION_KEYS | {"messages"} and full["message_count"] == 2
    assert [set(m) for m in full["messages"]] == [MESSAGE_KEYS, MESSAGE_KEYS]
    assert set(full["messages"][1]["citations"][0]) == CITATION_KEYS
    renamed = client.patch(f"/v1/sessions/{created['id']}", json={"title": "New"}).json()
    assert set(renamed) == SESSION_KEYS and renamed["title"] == "New"


@pytest.mark.parametrize("body", [
    {"question": "What is pretraining?", "k": True},
    {"question": "What is pretraining?", "k": "3"},
    {"question": "What is pretraining?", "k": 3.5},
    {"question": "What is pretraining?", "engine": 1},
    {"question": 42},
    {"question": "What is pretraining?", "session_id": 7},
])
def test_ask_inputs_are_strict(make_client: MakeClient, body: dict[str, Any]) -> None:
    client = make_client()
    assert_error(client.post("/v1/ask", json=body), 422, "invalid_input")
    assert_error(client.post("/v1/ask/stream", json=body), 422, "invalid_input")


def test_a_whole_number_written_as_a_float_is_a_k(make_client: MakeClient) -> None:
    # JSON Schema counts 3.0 as an integer, so the OpenAPI contract accepts it.
    r = make_client().post("/v1/ask", json={"question": QUESTION, "k": 3.0})
    assert r.status_code == 200, r.text


def test_session_and_chat_inputs_are_strict(make_client: MakeClient) -> None:
    client = make_client()
    assert_error(client.post("/v1/sessions", json={"title": 5}), 422, "invalid_input")
    created = client.post("/v1/sessions", json={}).json()
    assert_error(client.patch(f"/v1/sessions/{created['id']}", json={"title": False}), 422,
                 "invalid_input")
    chat = {"model": "paperchat", "messages": [{"role": "user", "content": QUESTION}]}
    r = client.post("/v1/chat/completions", json={**chat, "stream": "yes"})
    assert r.status_code == 400  # the OpenAI route answers as OpenAI does
    assert (r.json()["error"]["param"], r.json()["error"]["code"]) == ("stream", "invalid_type")
    assert client.post("/v1/chat/completions", json={**chat, "stream": False}).status_code == 200
