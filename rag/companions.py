"""Collections kept beside a collection's chunks: per-paper records another stage derives
from the papers (relevance's per-sentence vectors in `<name>__sentences`).

A `Companion` is written by the ingest together with the chunks (rag/indexer.py) and
swapped in with them by `--rebuild`; it never needs to know about either:
- `write(store, papers, hashes)` is called for each batch of new or changed papers BEFORE
  their chunks are written: it stores the papers' records (keyed by paper id and content
  hash) and removes those papers' older versions. A killed ingest whose chunks of a paper
  were written has therefore written the paper's records too; a paper whose chunks were not
  written is redone by the next ingest (its hash differs), records included.
- `remove(store, paper_ids)` is called for pruned papers BEFORE their chunks are deleted,
  so a killed prune never leaves records no later prune would find.
- `--rebuild` writes into `<name>__rebuild<suffix>` and swaps it in (with `<name>__old<suffix>`
  parked and dropped) right before the chunks' own swap; the suffixes swapped are recorded
  on the new collection, so a swap killed in between is finished at the next open even by
  a process that knows no companions (rag/indexer.py `recover_interrupted_rebuild`).

Reads go through `Library.companion(suffix)` (a `CompanionStore` on the Library's current
client, so a long-lived process sees other processes' writes after it caught up with them).
`make_companions(settings)` is the one place that decides which companions an opened
collection has; it has none until a stage adds one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from rag.store import ChromaStore

if TYPE_CHECKING:
    from rag.embedders import Embedder
    from rag.models import Paper
    from rag.settings import Settings


class CompanionStore(ChromaStore):
    """A companion collection: the generic Chroma record calls, through ChromaStore's error
    conversion and name re-resolution (a `--rebuild` may swap it while you read)."""

    def put(self, ids: Sequence[str], *, embeddings: Any = None,
            documents: Sequence[str] | None = None,
            metadatas: Sequence[dict[str, Any]] | None = None) -> None:
        """Upsert records (created with cosine space on first write)."""
        if not ids:
            return
        self._call(lambda col: col.upsert(ids=list(ids), embeddings=embeddings,
                                          documents=documents, metadatas=metadatas),
                   None, create=True)

    def remove(self, *, ids: Sequence[str] | None = None,
               where: dict[str, Any] | None = None) -> None:
        self._call(lambda col: col.delete(ids=list(ids) if ids is not None else None,
                                          where=where), None)

    def fetch(self, **get_kwargs: Any) -> dict[str, Any]:
        """`collection.get(**get_kwargs)`; an empty result when the collection is absent."""
        empty: dict[str, Any] = {"ids": [], "embeddings": [], "documents": [],
                                 "metadatas": []}
        return self._call(lambda col: col.get(**get_kwargs), empty)


class Companion(Protocol):
    """Per-paper records kept in `<collection><suffix>`; see the module docstring."""

    @property
    def suffix(self) -> str: ...  # e.g. "__sentences"

    def write(self, store: CompanionStore, papers: Sequence[Paper],
              hashes: dict[str, str]) -> None: ...

    def remove(self, store: CompanionStore, paper_ids: Sequence[str]) -> None: ...


def make_companions(settings: Settings, embedder: Callable[[], Embedder] | None = None
                    ) -> list[Companion]:
    """The companions of a collection opened with `settings`; `embedder` gives the
    collection's embedder (the Library's, built on first use).

    `<name>__sentences` (rag.relevance.store): title and sentence vectors for the calibrated
    relevance stage, kept when that stage is on and the embedder is the bundled MiniLM its
    model was fitted on (for any other embedder the stage is off, so nothing is stored)."""
    if (embedder is not None and settings.relevance.stage == "calibrated"
            and settings.embed.provider == "minilm"):
        from rag.relevance.store import SentenceCompanion

        return [SentenceCompanion(embedder)]
    return []
