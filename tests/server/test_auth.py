"""PAPERCHAT_API_KEY: every /v1 route needs the bearer key; health checks stay open."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from server.security import is_loopback, key_matches
from tests.server.conftest import API_KEY, QUESTION, MakeClient, assert_error

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
        assert_error(r, 401, "unauthorized")
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
    from fastapi.security import HTTPAuthorizationCredentials

    key = SecretStr("s3cret-ünïcode")
    def creds(token: str) -> HTTPAuthorizationCredentials:
        return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)

    assert key_matches(creds("s3cret-ünïcode"), key)
    assert not key_matches(creds("s3cret-ünïcod"), key)
    assert not key_matches(creds(""), key) and not key_matches(None, key)


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("127.0.0.2", True),
                                            ("::1", True), ("[::1]", True),
                                            ("localhost", True), ("0.0.0.0", False),
                                            ("example.org", False), ("10.0.0.1", False)])
def test_loopback_detection(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop
