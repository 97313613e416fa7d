"""The identity each embedder records in a collection: another one there means re-ingest."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.settings import Settings

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIMENSION = 384


def fake_name(dimension: int) -> str:
    return f"fake-hashing-{dimension}"


def openai_name(model: str) -> str:
    return f"openai:{model}"


def embedder_identity(settings: Settings) -> tuple[str, int]:
    """(model name, dimension) of the configured embedder, without loading it."""
    es = settings.embed
    if es.provider == "fake":
        return fake_name(es.dimensions), es.dimensions
    if es.provider == "openai":
        return openai_name(es.model), es.dimensions
    return MINILM_NAME, MINILM_DIMENSION
