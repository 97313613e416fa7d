"""Server fixtures: TestClients over the 12-paper fake library, the bundled collection."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.library import Library
from rag.settings import Settings
from server.app import create_app

API_KEY = "pc-api-key-0123456789abcdef"
ADMIN_KEY = "pc-admin-key-fedcba9876543210"
QUESTION = "How does graph neural network pretraining work?"

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(settings: Settings, library: Library) -> Iterator[MakeClient]:
    """TestClient factory (lifespan run) over the `library` home; kwargs are settings
    overrides such as api_key=... or server__max_upload_bytes=..."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        app = create_app(settings.with_overrides(**overrides) if overrides else settings)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


@pytest.fixture
def bundled_settings(bundled_fake_home: Path) -> Settings:
    """The bundled 119 papers with the fake embedder (shared: never ingest or save into it)."""
    return Settings(home=bundled_fake_home, embed={"provider": "fake"})  # type: ignore[arg-type]


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has `status` and the one error shape; returns the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


def assert_openai_error(response: Any, status: int, code: str | None = None,
                        param: str | None = None) -> dict[str, Any]:
    """The response has `status` and OpenAI's error shape (message, type, param, code)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["type"] == ("server_error" if status >= 500 else
                                     "invalid_request_error")
    if code is not None:
        assert body["error"]["code"] == code
    if param is not None:
        assert body["error"]["param"] == param
    return body["error"]  # type: ignore[no-any-return]


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    """(event, data) per server-sent event in a response body; comments are skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events
