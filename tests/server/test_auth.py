"""PAPERCHAT_API_KEY(S): every /v1 route needs a bearer key; health checks stay open; each
key is a user with their own chat sessions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rag.errors import ConfigError
from rag.settings import Settings, load_settings
from server.app import create_app
from server.security import is_loopback, key_matches, read_keys_file
from tests.server.conftest import ADMIN_KEY, API_KEY, QUESTION, MakeClient, assert_error

ROUTES = [("GET", "/v1/models", None), ("GET", "/v1/papers", None),
          ("GET", "/v1/papers/p1", None), ("GET", "/v1/search?q=protein", None),
          ("POST", "/v1/ask", {"question": QUESTION}),
          ("POST", "/v1/ask/stream", {"question": QUESTION}),
          ("POST", "/v1/chat/completions",
           {"model": "paperchat", "messages": [{"role": "user", "content": QUESTION}]}),
          ("POST", "/v1/sessions", {}), ("GET", "/v1/sessions", None),
          ("GET", "/v1/sessions/abc", None), ("DELETE", "/v1/sessions/abc", None)]


@pytest.fixture
def keyed(make_client: MakeClient) -> TestClient:
    return make_client(api_key=API_KEY)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_missing_or_wrong_key_is_401(keyed: TestClient, method: str, path: str,
                                     body: object) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-key"},
                    {"Authorization": f"Basic {API_KEY}"},
                    {"Authorization": f"Bearer {API_KEY[:-1]}"}):
        r = keyed.request(method, path, json=body, headers=headers)
        openai_route = path.startswith(("/v1/models", "/v1/chat"))
        assert_error(r, 401, "invalid_api_key" if openai_route else "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        assert API_KEY not in r.text


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_right_key_passes(keyed: TestClient, method: str, path: str, body: object) -> None:
    r = keyed.request(method, path, json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code in (200, 201, 404), r.text  # 404: the ids above do not exist


def test_without_a_configured_key_no_header_is_needed(make_client: MakeClient) -> None:
    assert make_client().get("/v1/papers").status_code == 200


def test_docs_and_health_need_no_key(keyed: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/docs", "/openapi.json"):
        assert keyed.get(path).status_code == 200, path


def test_key_comparison() -> None:
    key = SecretStr("s3cret-ünïcode")
    assert key_matches("s3cret-ünïcode", key)
    assert not key_matches("s3cret-ünïcod", key)
    assert not key_matches("", key) and not key_matches(None, key)


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("127.0.0.2", True),
                                            ("::1", True), ("[::1]", True),
                                            ("localhost", True), ("0.0.0.0", False),
                                            ("example.org", False), ("10.0.0.1", False)])
def test_loopback_detection(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


ALICE, BOB = "pc-alice-key-00000000000000", "pc-bob-key-1111111111111111"


@pytest.fixture
def two_users(make_client: MakeClient) -> TestClient:
    return make_client(api_keys={"alice": ALICE, "bob": BOB}, api_key=API_KEY,
                       admin_key=ADMIN_KEY)


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_each_key_is_a_user_with_their_own_sessions(two_users: TestClient) -> None:
    client = two_users
    mine = client.post("/v1/sessions", json={"title": "alice"}, headers=_as(ALICE)).json()["id"]
    r = client.post("/v1/ask", json={"question": QUESTION, "session_id": mine},
                    headers=_as(ALICE))
    assert r.status_code == 200, r.text
    for key in (BOB, API_KEY):  # another user, and the default user
        assert_error(client.get(f"/v1/sessions/{mine}", headers=_as(key)), 404, "not_found")
        assert_error(client.patch(f"/v1/sessions/{mine}", json={"title": "x"},
                                  headers=_as(key)), 404)
        assert_error(client.delete(f"/v1/sessions/{mine}", headers=_as(key)), 404)
        for path in ("/v1/ask", "/v1/ask/stream"):
            r = client.post(path, json={"question": QUESTION, "session_id": mine},
                            headers=_as(key))
            assert_error(r, 404, "not_found")
        assert client.get("/v1/sessions", headers=_as(key)).json()["sessions"] == []
    detail = client.get(f"/v1/sessions/{mine}", headers=_as(ALICE)).json()
    assert detail["title"] == "alice" and len(detail["messages"]) == 2  # nobody else wrote
    assert [s["id"] for s in client.get("/v1/sessions", headers=_as(ALICE)).json()[
        "sessions"]] == [mine]


def test_the_admin_key_is_not_a_user_key(two_users: TestClient) -> None:
    assert_error(two_users.get("/v1/sessions", headers=_as(ADMIN_KEY)), 401)
    assert_error(two_users.post("/v1/ingest", json=[], headers=_as(ALICE)), 401)


def test_keys_file(tmp_path: Path, make_client: MakeClient) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# team keys\nalice {ALICE}\n\nbob   {BOB}  # added later\n")
    client = make_client(api_keys_file=keys)
    assert client.get("/v1/sessions", headers=_as(BOB)).status_code == 200
    assert_error(client.get("/v1/sessions"), 401)
    assert read_keys_file(keys) == {"alice": SecretStr(ALICE), "bob": SecretStr(BOB)}


@pytest.mark.parametrize(("text", "problem"), [
    ("alice\n", ":1: expected `<user> <key>`"),
    (f"alice {ALICE}\nalice {BOB}\n", ":2: user 'alice' is listed twice"),
    (f"alice {ALICE} extra\n", ":1: expected")])
def test_malformed_keys_files_name_the_line_not_the_key(tmp_path: Path, text: str,
                                                       problem: str) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_keys_file(keys)
    assert problem in str(info.value) and ALICE not in str(info.value)


@pytest.mark.parametrize("overrides", [
    {"api_keys": {"alice": ALICE, "bob": ALICE}},
    {"api_keys": {"alice": ALICE}, "api_key": ALICE},
    {"api_keys": {"alice": ALICE}, "admin_key": ALICE},
    {"api_keys": {"alice": ""}}])
def test_ambiguous_keys_are_refused_at_start(settings: Settings,
                                             overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        create_app(settings.with_overrides(**overrides))
    assert ALICE not in str(info.value)


def test_keys_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERCHAT_API_KEYS", json.dumps({"alice": ALICE}))
    settings = load_settings()
    assert settings.api_keys["alice"].get_secret_value() == ALICE
    assert ALICE not in repr(settings) and ALICE not in str(settings.model_dump())


def test_keys_never_reach_the_logs(two_users: TestClient,
                                   caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        for key in (ALICE, BOB, ADMIN_KEY, "wrong-" + ALICE):
            two_users.post("/v1/ask", json={"question": QUESTION}, headers=_as(key))
            two_users.post("/v1/ingest", json=[{"title": "t", "abstract": "a"}],
                           headers=_as(key))
    for key in (ALICE, BOB, ADMIN_KEY):
        assert key not in caplog.text
