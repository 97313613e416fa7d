"""Token-aware chunking of abstracts with llama-index's SentenceSplitter on tiktoken."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rag.models import Chunk, Paper

if TYPE_CHECKING:
    from rag.settings import ChunkSettings


class Chunker:
    """Splits each abstract into sentence-aligned chunks; the title prefixes every chunk.

    The title is passed as llama-index "metadata" so the splitter shrinks the chunk budget
    by the title's tokens: title + chunk stays within `chunk_size` tiktoken tokens.
    """

    def __init__(self, settings: ChunkSettings) -> None:
        from rag.tokens import ensure_tiktoken_cache

        ensure_tiktoken_cache()
        from llama_index.core.node_parser import SentenceSplitter

        self._splitter: Any = SentenceSplitter(chunk_size=settings.chunk_size,
                                               chunk_overlap=settings.chunk_overlap)

    def chunk(self, paper: Paper) -> list[Chunk]:
        header = paper.title
        try:
            pieces = self._splitter.split_text_metadata_aware(paper.abstract, header)
        except ValueError:
            # A title longer than the whole budget: llama-index refuses; split without it.
            pieces = self._splitter.split_text(paper.abstract)
        pieces = [p for p in pieces if p.strip()] or [paper.abstract]
        return [Chunk(id=f"{paper.id}#{i}", paper_id=paper.id, index=i,
                      text=f"{header}\n\n{piece}") for i, piece in enumerate(pieces)]

    def chunk_many(self, papers: Sequence[Paper]) -> list[Chunk]:
        return [c for p in papers for c in self.chunk(p)]


def chunk_body(text: str) -> str:
    """The chunk text without its title header (for snippets)."""
    _, sep, body = text.partition("\n\n")
    return body if sep else text
