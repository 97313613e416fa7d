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
- `missing(store, hashes)` names the papers (of those given, with their content hashes)
  that have no complete record of that version. An ingest asks it about the papers it
  finds unchanged and writes theirs (`backfill`), so a collection ingested before a
  companion existed (or while it was switched off) gets its records from an ordinary
  re-ingest of the same files, batch by batch, without its chunks being touched. `write`
  must store a paper's completeness marker last, so that a kill mid-write leaves the
  paper missing (redone by the next ingest), never half-stored.
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
              hashes: dict[str, str], *, embedder: Embedder | None = None) -> None:
        """`embedder`: the ingest's (e.g. a worker process); None = the companion's own."""

    def remove(self, store: CompanionStore, paper_ids: Sequence[str]) -> None: ...

    def missing(self, store: CompanionStore, hashes: dict[str, str]) -> list[str]: ...


def backfill(companions: Sequence[tuple[Companion, CompanionStore]], papers: Sequence[Paper],
             hashes: dict[str, str], *, embedder: Callable[[], Embedder],
             batch_papers: int, progress: Callable[[int, int], None] | None = None) -> int:
    """Write the companions' records of `papers` (unchanged: their chunks are in place) that
    are missing, `batch_papers` at a time; the number of papers written. `embedder` is only
    called when something is missing (an up-to-date collection loads no model)."""
    hashes = {p.id: hashes[p.id] for p in papers}
    lacking = [(c, s, set(c.missing(s, hashes))) for c, s in companions]
    todo = [p for p in papers if any(p.id in ids for _, _, ids in lacking)]
    if not todo:
        return 0
    model = embedder()
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), batch_papers):
        batch = todo[start:start + batch_papers]
        for companion, store, ids in lacking:
            mine = [p for p in batch if p.id in ids]
            if mine:
                companion.write(store, mine, hashes, embedder=model)
        if progress:
            progress(start + len(batch), len(todo))
    return len(todo)


def make_companions(settings: Settings, embedder: Callable[[], Embedder] | None = None
                    ) -> list[Companion]:
    """The companions of a collection opened with `settings`; `embedder` gives the
    collection's embedder (the Library's, built on first use).

    `<name>__sentences` (rag.relevance.store): title and sentence vectors for the calibrated
    relevance stage, kept when that stage is on, `relevance.store_sentences` is true (the
    default) and the embedder is the bundled MiniLM its model was fitted on (for any other
    embedder the stage is off, so nothing is stored). Without it the stage embeds at query
    time (rag.relevance.store.StoredSentences falls back for papers without records, and
    ignores records left from before that no longer match a paper's text)."""
    if (embedder is not None and settings.relevance.stage == "calibrated"
            and settings.relevance.store_sentences and settings.embed.provider == "minilm"):
        from rag.relevance.store import SentenceCompanion

        return [SentenceCompanion(embedder)]
    return []
