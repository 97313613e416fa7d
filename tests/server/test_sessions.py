"""Chat sessions over HTTP: create, list, history, delete."""

from __future__ import annotations

from tests.server.conftest import MakeClient, assert_error


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
