"""The OpenAPI document, adjusted to this server's settings so that it tells the truth.

The request models are static; the question length limit and whether the llm engine is
available come from settings, so they are patched into the generated schema.
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
    app.openapi_schema = doc
    return doc
