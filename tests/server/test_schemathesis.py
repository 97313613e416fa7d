"""Property-based: requests generated from our own OpenAPI schema never get a 5xx or a
response that breaks the schema (schemathesis 4, bounded examples, fake embedder).

Derandomised (tests/conftest.py's hypothesis profile): CI sends the same cases every run.
The randomised, longer run is `bench/fuzz_nightly.sh` (SCHEMATHESIS_N examples per route).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from rag.library import Library
from rag.settings import Settings
from server.app import create_app
from tests.server.conftest import API_KEY

pytestmark = pytest.mark.slow  # property-based run over the whole API

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def api_schema(settings: Settings, library: Library) -> Any:
    """The app with an API key over a private 12-paper collection (ingest may write to it)."""
    app = create_app(settings.with_overrides(api_key=API_KEY))
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Unknown query parameters are ignored, as HTTP APIs usually do; the key is sent by
    # the test itself (auth failures have their own tests in test_auth.py).
    loaded.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")

# The OpenAI request schema cannot say "the last user message is within the length limit",
# and generated collection files are rarely parseable: valid-looking data may get a 4xx there.
# The collection parsers also accept more than the documented paper fields (abstract
# aliases such as "text", numbers for ids and DOIs), so odd-looking papers may be indexed.
_EXCLUDED = {("POST", "/v1/chat/completions"): [positive_data_acceptance],
             ("POST", "/v1/ingest"): [positive_data_acceptance, negative_data_rejection]}


@schema.parametrize()
@settings(max_examples=int(os.environ.get("SCHEMATHESIS_N", "25")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_schema(case: Any) -> None:
    excluded = _EXCLUDED.get((case.method, case.path), [])
    case.call_and_validate(headers=AUTH, excluded_checks=excluded)


def test_schema_claims_a_bearer_key_only_when_one_is_set(settings: Settings) -> None:
    def security(app_settings: Settings, path: str, method: str) -> object:
        doc = create_app(app_settings).openapi()
        return doc["paths"][path][method].get("security")

    assert security(settings, "/v1/ask", "post") is None
    assert security(settings, "/v1/ingest", "post") is None
    admin_only = settings.with_overrides(admin_key="a" * 20)
    assert security(admin_only, "/v1/ask", "post") is None
    assert security(admin_only, "/v1/ingest", "post") == [{"HTTPBearer": []}]
    keyed = settings.with_overrides(api_key=API_KEY)
    assert security(keyed, "/v1/ask", "post") == [{"HTTPBearer": []}]
    assert security(keyed, "/healthz", "get") is None


# A valid body per JSON route; the sweep below breaks one typed field at a time.
_BASES = {("/v1/ask", "post"): {"question": "What is pretraining?"},
          ("/v1/ask/stream", "post"): {"question": "What is pretraining?"},
          ("/v1/chat/completions", "post"): {
              "model": "paperchat", "messages": [{"role": "user", "content": "Pretraining?"}]},
          ("/v1/sessions", "post"): {},
          ("/v1/sessions/{session_id}", "patch"): {"title": "x"}}
_WRONG = {"integer": [True, "3", 3.5], "boolean": [1, "true"], "number": [True, "0.5"],
          "string": [5, True]}


def _types(schema: dict[str, Any], doc: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return _types(doc["components"]["schemas"][schema["$ref"].split("/")[-1]], doc)
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for option in schema.get("anyOf", []):
        found |= _types(option, doc)
    return found - {"null"}


def test_every_typed_field_is_strict(settings: Settings, library: Library) -> None:
    """Deterministic, from the schema itself: a JSON `true` is no integer, `1` no boolean,
    `"3"` no number... on every field of every JSON route (what a random run found once)."""
    from fastapi.testclient import TestClient

    app = create_app(settings)
    doc = app.openapi()
    with TestClient(app, raise_server_exceptions=False) as client:
        session = client.post("/v1/sessions", json={}).json()["id"]
        checked = 0
        for (path, method), base in _BASES.items():
            body_schema = doc["paths"][path][method]["requestBody"]["content"][
                "application/json"]["schema"]
            ref = body_schema.get("$ref") or next(o["$ref"] for o in body_schema["anyOf"]
                                                  if "$ref" in o)
            model = doc["components"]["schemas"][ref.split("/")[-1]]
            url = path.replace("{session_id}", session)
            assert client.request(method, url, json=base).status_code < 300, (path, base)
            for field, schema in model["properties"].items():
                types = _types(schema, doc)
                if len(types) != 1 or next(iter(types)) not in _WRONG:
                    continue
                for wrong in _WRONG[next(iter(types))]:
                    if isinstance(wrong, str) and "string" in types:
                        continue
                    r = client.request(method, url, json={**base, field: wrong})
                    assert r.status_code in (400, 422), (path, field, wrong, r.text)
                    checked += 1
    assert checked >= 20
