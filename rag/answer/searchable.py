"""What the answer layer needs from an opened collection (rag.library.Library provides it).

A module of its own so that the Assistant, the pipeline and the relevance stages can all
name it without importing each other."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rag.embedders import Embedder
    from rag.models import SearchResponse
    from rag.settings import Settings


class Searchable(Protocol):
    """What the Assistant needs from an opened collection (rag.library.Library)."""

    settings: Settings

    @property
    def embedder(self) -> Embedder: ...

    def search(self, query: str, k: int | None = None, *,
               mode: str | None = None) -> SearchResponse: ...

    def is_empty(self) -> bool: ...

    def count(self) -> int: ...
