"""POST /v1/ask: the `paperchat ask --json` shape, limits, sessions and a failing LLM."""

from __future__ import annotations

import pytest

from rag.answer.service import Assistant
from rag.library import Library
from rag.settings import Settings
from tests.server.conftest import QUESTION, MakeClient, assert_error
from tests.utils.fake_openai import fake_openai_server

LLM_KEY = "sk-llm-SECRET-abcdef0123456789"


def test_answer_is_the_cli_json(make_client: MakeClient, settings: Settings,
                                library: Library) -> None:
    r = make_client().post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200
    body = r.json()
    expected = Assistant(settings, library).ask(QUESTION).model_dump(mode="json")
    assert set(body) == set(expected)
    for key in ("question", "answer", "citations", "refused", "engine", "degraded"):
        assert body[key] == expected[key], key
    assert body["engine"] == "extractive" and not body["refused"]
    ids = {p.id for p in library.papers()}
    assert body["citations"] and all(c["paper_id"] in ids for c in body["citations"])
    for c in body["citations"]:
        assert f"[{c['n']}]" in body["answer"]


def test_k_limits_the_sources(make_client: MakeClient) -> None:
    r = make_client().post("/v1/ask", json={"question": QUESTION, "k": 1})
    assert r.status_code == 200 and len(r.json()["citations"]) == 1


@pytest.mark.parametrize("question", ["", "   \n\t"])
def test_empty_question_is_422(make_client: MakeClient, question: str) -> None:
    assert_error(make_client().post("/v1/ask", json={"question": question}), 422,
                 "invalid_input")


def test_question_length_limit(make_client: MakeClient) -> None:
    client = make_client()
    error = assert_error(client.post("/v1/ask", json={"question": "a" * 2001}), 422)
    assert "2000" in error["message"]
    at_limit = ("graph neural network pretraining " * 70)[:2000]
    assert client.post("/v1/ask", json={"question": at_limit}).status_code == 200
    small = make_client(server__max_question_chars=20)
    assert_error(small.post("/v1/ask", json={"question": QUESTION}), 422)


@pytest.mark.parametrize("k", [0, 21, -3])
def test_k_out_of_range_is_422(make_client: MakeClient, k: int) -> None:
    error = assert_error(make_client().post("/v1/ask", json={"question": QUESTION, "k": k}),
                         422, "invalid_input")
    assert error["message"].startswith("k:")


def test_unknown_field_and_bad_json_are_422(make_client: MakeClient) -> None:
    client = make_client()
    assert_error(client.post("/v1/ask", json={"question": QUESTION, "kk": 3}), 422)
    assert_error(client.post("/v1/ask", content=b"{not json",
                             headers={"content-type": "application/json"}), 422)


def test_unknown_session_is_404(make_client: MakeClient) -> None:
    r = make_client().post("/v1/ask", json={"question": QUESTION, "session_id": "nope"})
    assert_error(r, 404, "not_found")


def test_llm_engine_without_endpoint_is_422(make_client: MakeClient) -> None:
    r = make_client().post("/v1/ask", json={"question": QUESTION, "engine": "llm"})
    assert "no LLM endpoint" in assert_error(r, 422)["message"]


def test_session_records_the_turn(make_client: MakeClient) -> None:
    client = make_client()
    sid = client.post("/v1/sessions", json={}).json()["id"]
    answer = client.post("/v1/ask", json={"question": QUESTION, "session_id": sid}).json()
    assert answer["session_id"] == sid
    messages = client.get(f"/v1/sessions/{sid}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == QUESTION
    assert messages[1]["content"] == answer["answer"]
    assert messages[1]["citations"] == answer["citations"]


def _llm(fake_url: str, fallback: bool) -> dict[str, object]:
    return {"llm__base_url": fake_url, "llm__api_key": LLM_KEY, "llm__max_retries": 0,
            "llm__fallback_extractive": fallback}


def test_llm_answer_through_the_endpoint(make_client: MakeClient) -> None:
    with fake_openai_server(default_reply="Pretraining uses graphs [1].") as fake:
        body = make_client(**_llm(fake.base_url, False)).post(
            "/v1/ask", json={"question": QUESTION}).json()
    assert body["engine"] == "llm" and body["answer"] == "Pretraining uses graphs [1]."
    assert len(body["citations"]) == 1


def test_llm_down_is_503_without_secrets(make_client: MakeClient) -> None:
    with fake_openai_server() as fake:
        fake.fail(500, times=10)
        r = make_client(**_llm(fake.base_url, False)).post("/v1/ask",
                                                            json={"question": QUESTION})
        url, port = fake.base_url, str(fake.port)
    assert_error(r, 503, "llm_unavailable")
    assert LLM_KEY not in r.text and url not in r.text and port not in r.text


def test_llm_down_degrades_when_configured(make_client: MakeClient) -> None:
    with fake_openai_server() as fake:
        fake.fail(500, times=10)
        r = make_client(**_llm(fake.base_url, True)).post("/v1/ask",
                                                           json={"question": QUESTION})
        url = fake.base_url
    body = r.json()
    assert r.status_code == 200 and body["degraded"] is True
    assert body["engine"] == "extractive" and body["citations"]
    assert LLM_KEY not in r.text and url not in r.text
