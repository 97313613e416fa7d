"""GET /healthz and /readyz."""

from __future__ import annotations

from rag.library import Library
from rag.models import Paper
from rag.settings import Settings
from tests.server.conftest import MakeClient
from tests.utils.fake_openai import fake_openai_server


def test_healthz_is_open_even_with_an_api_key(make_client: MakeClient) -> None:
    r = make_client(api_key="k" * 20).get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_reports_index_and_embedder(make_client: MakeClient) -> None:
    body = make_client().get("/readyz").json()
    assert body["ready"] is True
    assert body["papers"] == 12
    assert body["embedder"] == "fake-hashing-384"
    assert body["engine"] == "extractive"
    assert body["llm"] == {"configured": False, "reachable": None, "model": None}


def test_readyz_probes_the_llm_endpoint(make_client: MakeClient) -> None:
    with fake_openai_server() as fake:
        up = make_client(llm__base_url=fake.base_url).get("/readyz").json()
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    down = make_client(llm__base_url="http://127.0.0.1:1/v1").get("/readyz")
    assert up["llm"]["configured"] and up["llm"]["reachable"] is True
    assert up["engine"] == "llm"
    # An unreachable LLM does not make the server unready: answers degrade to extractive.
    assert down.status_code == 200 and down.json()["llm"]["reachable"] is False
    assert down.json()["engine"] == "llm"  # the default engine; answers would degrade


def test_readyz_reports_the_engine_actually_used(make_client: MakeClient) -> None:
    """answer.engine decides, not just whether an endpoint is configured."""
    with fake_openai_server() as fake:
        forced = make_client(llm__base_url=fake.base_url, answer__engine="extractive")
        assert forced.get("/readyz").json()["engine"] == "extractive"
    unusable = make_client(answer__engine="llm").get("/readyz")  # llm without an endpoint
    assert unusable.status_code == 200 and unusable.json()["engine"] is None


def test_readyz_is_503_when_the_index_cannot_be_used(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from server.app import create_app

    Library(settings).ingest([Paper(id="a", title="A title", abstract="An abstract about things.")])
    other_model = settings.with_overrides(embed__dimensions=64)
    with TestClient(create_app(other_model)) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["ready"] is False and r.json()["problem"] == "embedder_mismatch"
