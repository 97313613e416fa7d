"""Embedders: one small interface, three implementations chosen by settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from rag.embedders.names import embedder_identity

if TYPE_CHECKING:
    import numpy as np

    from rag.settings import Settings


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """Model identity recorded in the collection (mismatch => re-ingest)."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


__all__ = ["Embedder", "embedder_identity", "make_embedder"]


def make_embedder(settings: Settings) -> Embedder:
    """Build the configured embedder (imports only what that embedder needs)."""
    provider = settings.embed.provider
    if provider == "fake":
        from rag.embedders.fake import HashingEmbedder

        return HashingEmbedder(dimension=settings.embed.dimensions)
    if provider == "openai":
        from rag.embedders.openai_embed import OpenAIEmbedder

        return OpenAIEmbedder(settings)
    if settings.embed.runtime == "torch":
        from rag.embedders.minilm import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(settings)
    from rag.embedders.minilm import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(settings)
