"""The OpenAPI document, adjusted to this server's settings so that it tells the truth.

The request models are static; the question length limit, whether the llm engine is
available and whether a bearer key is required come from settings, so they are patched
into the generated schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from rag.settings import Settings


def _engine_without_llm(schema: dict[str, Any]) -> None:
    for option in schema.get("anyOf", [schema]):
        if "enum" in option:
            option["enum"] = [e for e in option["enum"] if e != "llm"]


def _drop_unused_security(doc: dict[str, Any], settings: Settings) -> None:
    """Without a configured key the bearer header is not required: do not claim it is."""
    for path, operations in doc["paths"].items():
        keyed = bool(settings.api_key or settings.api_keys or settings.api_keys_file) or (
            path == "/v1/ingest" and settings.admin_key is not None)
        for operation in operations.values():
            if not keyed:
                operation.pop("security", None)


def build_openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """Generate once, patch, cache on the app (FastAPI's own pattern for custom schemas)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description,
                      routes=app.routes)
    limit = settings.server.max_question_chars
    ask = doc["components"]["schemas"]["AskRequest"]["properties"]
    ask["question"]["maxLength"] = limit
    if not settings.llm.configured:
        _engine_without_llm(ask["engine"])
    for param in doc["paths"]["/v1/search"]["get"]["parameters"]:
        if param["name"] == "q":
            param["schema"]["maxLength"] = limit
    _drop_unused_security(doc, settings)
    for path in ("/v1/chat/completions", "/v1/models/{model}"):  # they answer 400, not 422
        for operation in doc["paths"][path].values():
            operation["responses"].pop("422", None)
    app.openapi_schema = doc
    return doc
