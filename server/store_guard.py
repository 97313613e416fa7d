"""The served Library: Chroma client failures the core lets through become StoreUnavailable.

Workaround. With PAPERCHAT_CHROMA_URL set, some ChromaStore calls (`col.count()` in
`count_chunks`, `col.modify()` in `_set_metadata`, the metadata-filter deletes) do not go
through `rag.store._store_error`, so a stopped `chroma run` surfaced as a raw
`httpx.ConnectError`: a 500 on /v1/search, /v1/ask and /v1/ingest, and an `internal_error`
event on streams. Converting here gives every route the documented 503 until rag/store.py
wraps those calls itself (tests/reliability/test_chroma_restart.py holds the xfail for it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rag.errors import CollectionError, PaperchatError, StoreUnavailable
from rag.library import Library, Progress
from rag.models import IngestReport, Paper, SearchResponse

if TYPE_CHECKING:
    from rag.keyword import KeywordIndex


def _from_chroma_client(e: Exception) -> bool:
    import httpx

    return isinstance(e, httpx.HTTPError) or type(e).__module__.startswith("chromadb")


@contextmanager
def store_errors() -> Iterator[None]:
    """Re-raise Chroma client errors as the core's own CollectionError types."""
    try:
        yield
    except PaperchatError:
        raise
    except Exception as e:
        if not _from_chroma_client(e):
            raise
        import httpx

        if isinstance(e, httpx.TransportError):
            raise StoreUnavailable(f"the Chroma server is unreachable ({type(e).__name__}); "
                                   "check PAPERCHAT_CHROMA_URL and that `chroma run` is up"
                                   ) from e
        raise CollectionError(f"Chroma error: {type(e).__name__}") from e


class ServedLibrary(Library):
    """`Library` whose public calls raise only PaperchatError for store failures."""

    @property
    def keyword(self) -> KeywordIndex:
        with store_errors():
            return super().keyword

    def check_embedder(self) -> None:
        with store_errors():
            super().check_embedder()

    def count(self) -> int:
        with store_errors():
            return super().count()

    def is_empty(self) -> bool:
        with store_errors():
            return super().is_empty()

    def papers(self) -> list[Paper]:
        with store_errors():
            return super().papers()

    def get_paper(self, paper_id: str) -> Paper:
        with store_errors():
            return super().get_paper(paper_id)

    def search(self, query: str, k: int | None = None, *, mode: str | None = None
               ) -> SearchResponse:
        with store_errors():
            return super().search(query, k, mode=mode)

    def ingest(self, papers: Sequence[Paper], *, prune: bool = False, rebuild: bool = False,
               progress: Progress | None = None) -> IngestReport:
        with store_errors():
            return super().ingest(papers, prune=prune, rebuild=rebuild, progress=progress)
