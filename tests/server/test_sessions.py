"""Chat sessions over HTTP: create, list, history, rename, delete; on the SQLite default and
on PostgreSQL (tests/server/test_database_down.py: when it is unreachable)."""

from __future__ import annotations

import pytest

from tests.server.conftest import MakeClient, assert_error


@pytest.fixture(autouse=True)
def _both_databases(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERCHAT_DATABASE_URL", database_url)


def test_session_lifecycle(make_client: MakeClient) -> None:
    client = make_client()
    r = client.post("/v1/sessions", json={"title": "GNN reading"})
    assert r.status_code == 201
    created = r.json()
    assert created["title"] == "GNN reading" and created["message_count"] == 0
    assert [s["id"] for s in client.get("/v1/sessions").json()["sessions"]] == [created["id"]]
    detail = client.get(f"/v1/sessions/{created['id']}").json()
    assert detail["id"] == created["id"] and detail["messages"] == []
    assert client.delete(f"/v1/sessions/{created['id']}").status_code == 204
    assert_error(client.get(f"/v1/sessions/{created['id']}"), 404, "not_found")
    assert_error(client.delete(f"/v1/sessions/{created['id']}"), 404, "not_found")


def test_session_without_body_and_title_limit(make_client: MakeClient) -> None:
    client = make_client()
    r = client.post("/v1/sessions")
    assert r.status_code == 201 and r.json()["title"] is None
    assert_error(client.post("/v1/sessions", json={"title": "t" * 201}), 422)


def test_rename_session(make_client: MakeClient) -> None:
    """PATCH /v1/sessions/{id} {"title"}: what tui.client.HttpClient.rename_session sends."""
    client = make_client()
    created = client.post("/v1/sessions", json={"title": "old"}).json()
    r = client.patch(f"/v1/sessions/{created['id']}", json={"title": "  GNN   reading list "})
    assert r.status_code == 200, r.text
    renamed = r.json()
    assert renamed["id"] == created["id"] and renamed["title"] == "GNN reading list"
    assert renamed["updated_at"] > created["updated_at"] and "messages" not in renamed
    listed = client.get("/v1/sessions").json()["sessions"]
    assert [(s["id"], s["title"]) for s in listed] == [(created["id"], "GNN reading list")]
    assert client.get(f"/v1/sessions/{created['id']}").json()["title"] == "GNN reading list"
    assert client.patch(f"/v1/sessions/{created['id']}", json={"title": " "}).json()[
        "title"] is None  # a blank title clears it
    assert_error(client.patch("/v1/sessions/nope", json={"title": "x"}), 404, "not_found")
    assert_error(client.patch(f"/v1/sessions/{created['id']}", json={}), 422)
    assert_error(client.patch(f"/v1/sessions/{created['id']}", json={"title": "t" * 201}), 422)


async def test_tui_http_client_renames(make_client: MakeClient) -> None:
    """The TUI's HttpClient against this route (in-process ASGI transport)."""
    import httpx

    from rag.settings import Settings
    from tui.client import HttpClient

    client = make_client()
    session_id = client.post("/v1/sessions").json()["id"]
    transport = httpx.ASGITransport(app=client.app)
    tui = HttpClient("http://paperchat.test", Settings(), transport=transport)
    try:
        await tui.rename_session(session_id, "from the TUI")
        assert (await tui.get_session(session_id)).info.title == "from the TUI"
    finally:
        await tui.aclose()


def test_readyz_reports_the_database(make_client: MakeClient, database_url: str) -> None:
    body = make_client().get("/readyz").json()
    assert body["database"] == {"backend": database_url.split(":")[0], "reachable": True}
