"""A replica whose database is down: it starts, /readyz says so (503 only when asked to
require the database), session routes answer 503, search and ask without a session work."""

from __future__ import annotations

from tests.server.conftest import QUESTION, MakeClient, assert_error
from tests.utils.chroma_server import free_port


def test_a_database_that_is_down_fails_session_routes_with_503_only(
        make_client: MakeClient) -> None:
    down = f"postgresql://paperchat:pw@127.0.0.1:{free_port()}/paperchat"
    client = make_client(database_url=down)  # starts anyway
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["database"] == {"backend": "postgresql", "reachable": False}
    assert ready.json()["chroma"] == {"mode": "embedded", "reachable": True}
    assert ready.json()["problem"] == "database_unavailable"
    assert client.get("/readyz", params={"require": "database"}).status_code == 503
    for r in (client.post("/v1/sessions"), client.get("/v1/sessions"),
              client.get("/v1/sessions/abc"),
              client.post("/v1/ask", json={"question": QUESTION, "session_id": "abc"})):
        error = assert_error(r, 503, "database_unavailable")
        assert "pw" not in error["message"] and "127.0.0.1" not in error["message"]
    answer = client.post("/v1/ask", json={"question": QUESTION})
    assert answer.status_code == 200 and answer.json()["citations"]
    assert client.get("/v1/search", params={"q": QUESTION}).status_code == 200
