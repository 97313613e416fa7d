"""One error shape for everything, and no secret, URL or data path in any error."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from rag.errors import ConfigError, LLMUnavailable, StoreUnavailable
from rag.settings import Settings
from server.app import create_app
from server.deps import get_assistant, get_library
from tests.server.conftest import API_KEY, QUESTION, MakeClient, assert_error


def test_framework_errors_use_the_shape(make_client: MakeClient) -> None:
    client = make_client()
    assert_error(client.get("/no/such/route"), 404, "not_found")
    assert_error(client.put("/v1/ask", json={}), 405, "method_not_allowed")
    error = assert_error(client.post("/v1/ask", json={"k": 3}), 422, "invalid_input")
    assert "question" in error["message"]


class _Exploding:
    """Stands in for the Library/Assistant: every call raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def resolve_engine(self, engine: str | None = None) -> str:
        return "extractive"

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.error
        return fail


def _provider(value: Any) -> Any:
    async def provide() -> Any:
        return value
    return provide


def _client_with(settings: Settings, **overrides: Any) -> TestClient:
    app = create_app(settings)
    for dep, replacement in overrides.items():
        key = {"library": get_library, "assistant": get_assistant}[dep]
        app.dependency_overrides[key] = _provider(replacement)
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    return client


def _leaky(settings: Settings) -> str:
    return (f"failed at {settings.llm.base_url} with key {API_KEY} "
            f"under {settings.home}/chroma")


def test_server_side_failures_never_leak_configuration(settings: Settings,
                                                       library: object) -> None:
    configured = settings.with_overrides(api_key=API_KEY,
                                         llm__base_url="http://10.1.2.3:9999/v1")
    auth = {"Authorization": f"Bearer {API_KEY}"}
    cases = [(LLMUnavailable(_leaky(configured)), 503, "llm_unavailable"),
             (StoreUnavailable(_leaky(configured)), 503, "store_unavailable"),
             (ConfigError(_leaky(configured)), 500, "config_error"),
             (RuntimeError(_leaky(configured)), 500, "internal_error")]
    for error, status, code in cases:
        client = _client_with(configured, assistant=_Exploding(error),
                              library=_Exploding(error))
        for r in (client.post("/v1/ask", json={"question": QUESTION}, headers=auth),
                  client.get("/v1/search", params={"q": "x"}, headers=auth)):
            assert_error(r, status, code)
            for secret in (API_KEY, "10.1.2.3", "9999", str(configured.home)):
                assert secret not in r.text, (code, secret)
        client.__exit__(None, None, None)
