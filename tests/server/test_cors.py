"""CORS: closed by default, open only to the configured origins."""

from __future__ import annotations

from tests.server.conftest import MakeClient

PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}


def test_closed_by_default(make_client: MakeClient) -> None:
    client = make_client()
    r = client.get("/v1/papers", headers={"Origin": "https://app.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = client.options("/v1/ask", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in pre.headers


def test_configured_origins_only(make_client: MakeClient) -> None:
    client = make_client(server__cors_origins=["https://app.example"])
    pre = client.options("/v1/ask", headers=PREFLIGHT)
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    r = client.get("/v1/papers", headers={"Origin": "https://app.example"})
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    other = client.get("/v1/papers", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
