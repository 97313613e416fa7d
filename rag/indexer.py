"""Incremental, crash-safe ingest.

- A content hash per paper: unchanged papers are skipped without loading the model.
- Papers are written whole: all chunks of a batch of papers go to Chroma in one upsert,
  then the chunks of their previous version are deleted. A reader sees the old or the new
  version of each paper (at worst both for a moment), never a missing one.
- While writing, the collection carries an `ingest` marker. A killed ingest leaves it; the
  next open re-syncs the keyword index with Chroma, and the next ingest finds the papers
  whose hash or chunk count is off and writes them again.
- `--rebuild` fills a side collection and swaps it in only when complete: the live one is
  renamed `<name>__old`, the new one renamed `<name>`, then the old one dropped. Readers
  holding the old collection keep reading it until the drop, then resolve the name again
  (rag/store.py); a reader resolving the name between the two renames reads `<name>__old`.
  A kill between steps is finished by `recover_interrupted_rebuild` at the next open (a
  Library opened between the renames does that too; the rebuild then carries on); a kill
  after the side collection was marked complete but before the renames is finished by
  `finish_rebuild_swap`, by the next process that gets the collection's ingest lock.
- Companion collections (rag/companions.py, e.g. `<name>__sentences`) are written with the
  chunks: per batch before the chunks, for pruned papers before their chunks are deleted,
  and swapped in by `--rebuild` (same steps, `<name><suffix>__rebuild`) right before the
  chunks, so they never fall behind what the chunks say was written. Unchanged papers
  whose companion records are missing get them first (`backfill`, counted in the report's
  `backfilled`), without their chunks or the generation being touched.
- The keyword index is written alongside (old chunks of a paper deleted before its new ones
  are added) and committed once, after Chroma (after the swap in a rebuild): searches see
  the old index until the new one is complete, and a kill leaves the old one.
- A finished write records its token as the collection's `generation`, by which other
  processes notice it (rag/library.py).
- The cost follows what is written, not the collection size: stored versions are looked up
  for the given papers only (unless they are most of the collection, or --prune needs all),
  replaced versions are deleted by id, the keyword index indexes only the new chunks, and
  the paper count is carried forward.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rag.chunking import Chunker
from rag.companions import Companion, CompanionStore, backfill
from rag.errors import CollectionError, IngestError, PruneRefused
from rag.models import IngestReport, Paper
from rag.records import chunk_id
from rag.store import OLD_SUFFIX, ChromaStore

if TYPE_CHECKING:
    from rag.embedders import Embedder
    from rag.keyword import KeywordIndex, KeywordWriter
    from rag.records import PaperState
    from rag.settings import Settings

BATCH_PAPERS = 64
REBUILD_SUFFIX = "__rebuild"
# Looking up the stored versions of one paper (metadata filter, ~115 us) costs about as
# much as listing 16 chunk ids (~5 us each); for more papers one id listing is cheaper.
LOOKUP_VS_SCAN = 16


class IngestParts(Protocol):
    """What an ingest works with; rag.library.Library provides it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> ChromaStore: ...

    @property
    def keyword(self) -> KeywordIndex: ...

    @property
    def embedder(self) -> Embedder: ...

    def embedder_identity(self) -> tuple[str, int]: ...

    def open_store(self, name: str) -> ChromaStore: ...

    @property
    def companions(self) -> Sequence[Companion]: ...

    def companion(self, suffix: str) -> CompanionStore: ...


@dataclass(frozen=True)
class Written:
    """An ingest's outcome: the counts, the token it recorded as the collection's
    generation, and the store now under the collection's name if a rebuild replaced it."""

    report: IngestReport
    generation: str | None
    replaced_store: ChromaStore | None = None


def _check_unique(papers: Sequence[Paper]) -> None:
    seen: set[str] = set()
    for p in papers:
        if p.id in seen:
            raise IngestError(f"duplicate paper id {p.id!r} in the input; ids must be unique")
        if not p.title.strip() or not p.abstract.strip():
            raise IngestError(f"paper {p.id!r} has an empty title or abstract")
        seen.add(p.id)


def run_ingest(parts: IngestParts, papers: Sequence[Paper], *, prune: bool, rebuild: bool,
               progress: Callable[[int, int], None] | None,
               max_prune_share: float | None = None,
               embedder: Embedder | None = None) -> Written:
    """Write `papers` into the collection; see the module docstring. `embedder` (same
    identity as parts.embedder) embeds the documents instead, e.g. a worker process."""
    t0 = time.perf_counter()
    _check_unique(papers)
    name = parts.settings.collection
    report = IngestReport(collection=name)
    live = parts.store
    side = REBUILD_SUFFIX if rebuild else ""
    companions = [(c, parts.companion(c.suffix + side)) for c in parts.companions]
    if rebuild:
        for _, store in companions:
            store.drop()  # leftovers of an interrupted rebuild
        target = parts.open_store(name + REBUILD_SUFFIX)
        target.drop()
        existing: dict[str, PaperState] = {}
        papers_before: int | None = 0
    else:
        live.check_embedder(*parts.embedder_identity())  # before writing anything
        target = live
        existing, papers_before = _stored_versions(live, papers, prune)

    hashes = {p.id: p.content_hash() for p in papers}
    todo = [p for p in papers
            if p.id not in existing or existing[p.id].hash != hashes[p.id]
            or not existing[p.id].complete]
    report.added = sum(1 for p in todo if p.id not in existing)
    report.updated = len(todo) - report.added
    report.unchanged = len(papers) - len(todo)
    source_ids = set(hashes)
    to_remove = [pid for pid in existing if pid not in source_ids] if prune else []
    report.removed = len(to_remove)
    _check_prune(len(to_remove), len(existing), max_prune_share)

    if not rebuild and companions:  # records unchanged papers lack (companion added later)
        written = {p.id for p in todo}
        report.backfilled = backfill(companions, [p for p in papers if p.id not in written],
                                     hashes, embedder=lambda: embedder or parts.embedder,
                                     batch_papers=BATCH_PAPERS, progress=progress)

    dirty = target.exists and target.write_in_progress
    if not todo and not to_remove and not rebuild and not dirty:
        report.papers = papers_before if papers_before is not None else target.paper_count()
        report.chunks = target.count_chunks()
        report.seconds = time.perf_counter() - t0
        if progress:
            progress(len(papers), len(papers))
        return Written(report, None)

    embedder = (embedder or parts.embedder) if todo else None
    token = uuid.uuid4().hex
    target.begin_write(*(embedder.name, embedder.dimension) if embedder
                       else parts.embedder_identity(), token)
    keyword = parts.keyword
    # One keyword commit at the end: searches see the old index until the new one is
    # complete, and a killed ingest leaves the old one (the marker makes the next re-sync).
    with keyword.writer() as kw:
        if rebuild:
            kw.delete_all()
        if progress:
            progress(0, len(todo))
        if todo:
            assert embedder is not None
            chunker = Chunker(parts.settings.chunk)
            done = 0
            for start in range(0, len(todo), BATCH_PAPERS):
                batch = todo[start:start + BATCH_PAPERS]
                _write_batch(target, kw, batch, chunker, embedder, hashes, existing,
                             companions)
                done += len(batch)
                if progress:
                    progress(done, len(todo))
        if to_remove:
            for companion, store in companions:  # first: a killed prune is re-run
                companion.remove(store, to_remove)
            target.delete_versions({pid: existing[pid] for pid in to_remove})
            kw.delete_papers(to_remove)
        if rebuild:
            # Complete from here on: a kill in the companions' swaps is finished at the next
            # open (finish_rebuild_swap).
            target.set_rebuild_complete(True)
            for companion, store in companions:
                _swap_in(parts.open_store, store, name + companion.suffix, None)
            _swap_in(parts.open_store, target, name, token)

    if dirty or len(keyword) != target.count_chunks():
        # Recovering from a killed ingest, or another process wrote meanwhile.
        keyword.sync(target)
    if papers_before is not None and not dirty:
        report.papers = papers_before + report.added - report.removed
    else:
        report.papers = target.count_papers()
    # After the keyword index: a kill before forces a re-sync.
    target.end_write(report.papers, generation=token)
    report.chunks = target.count_chunks()
    report.seconds = time.perf_counter() - t0
    return Written(report, token, target if rebuild else None)


def _write_batch(target: ChromaStore, kw: KeywordWriter, batch: Sequence[Paper],
                 chunker: Chunker, embedder: Embedder, hashes: dict[str, str],
                 existing: dict[str, PaperState],
                 companions: Sequence[tuple[Companion, CompanionStore]] = ()) -> None:
    """Write a batch of whole papers: the companions' records first (a kill before the
    chunks leaves the papers to redo), then the new chunk versions in and the old ones out
    (Chroma and the keyword index)."""
    chunks = chunker.chunk_many(batch)
    vectors = embedder.embed_documents([c.text for c in chunks])
    for companion, store in companions:
        companion.write(store, batch, hashes, embedder=embedder)
    target.upsert(batch, chunks, vectors, hashes)
    target.delete_versions({p.id: existing[p.id] for p in batch if p.id in existing},
                           keep=hashes)
    kw.delete_papers([p.id for p in batch if p.id in existing])  # before their new chunks
    kw.add((chunk_id(c, hashes[c.paper_id]), c.paper_id, c.text) for c in chunks)


def _check_prune(removing: int, stored: int, max_share: float | None) -> None:
    """PruneRefused when a prune would remove more than `max_share` of the stored papers."""
    if max_share is None or removing <= max_share * stored:
        return
    raise PruneRefused(
        f"this prune would remove {removing} of the collection's {stored} papers "
        f"({removing / stored:.0%}), more than the {max_share:.0%} allowed without "
        "confirmation; nothing was written. Send it again with confirm=true to remove them",
        would_remove=removing, papers=stored)


def _stored_versions(store: ChromaStore, papers: Sequence[Paper], prune: bool
                     ) -> tuple[dict[str, PaperState], int | None]:
    """(stored state per paper, papers in the collection or None if unknown)."""
    if not store.exists:
        return {}, 0
    if not prune and len(papers) * LOOKUP_VS_SCAN < store.count_chunks():
        return store.paper_states([p.id for p in papers]), store.recorded_paper_count()
    # After a killed ingest every paper's chunk count is checked against its metadata.
    states = store.paper_states() if store.write_in_progress else store.committed_paper_states()
    return states, len(states)


def _swap_in(open_store: Callable[[str], ChromaStore], target: ChromaStore, name: str,
             token: str | None) -> None:
    """Make the complete `target` the collection called `name`; see the module docstring.
    `token`: the write marker `target` carries (None for a companion)."""
    target.set_rebuild_complete(True)
    old = open_store(name + OLD_SUFFIX)
    old.drop()  # leftovers of a killed swap
    current = open_store(name)  # not parts.store: readers keep using that one
    if current.present:
        current.rename(old.name)
    try:
        target.rename(name)
    except CollectionError:
        # A process that opened the library between the two renames took it for a killed
        # swap and finished it (recover_interrupted_rebuild): our collection, still marked
        # with this write's token, already has the name.
        if target.present or (token is not None
                              and open_store(name).metadata().get("ingest") != token):
            raise
        target.follow(name)
    old.drop()
    target.set_rebuild_complete(False)


def recover_interrupted_rebuild(open_store: Callable[[str], ChromaStore], name: str
                                ) -> bool:
    """Finish a `--rebuild` swap killed between its renames (see `_swap_in`): the complete
    new collection takes the name, the old one is dropped. Should the name be free with no
    complete new collection, the old one gets its name back. Needs no lock (the name must
    resolve for every reader). True when a complete side collection waits to be swapped in
    under a live one: a rebuild swapping right now, or one killed before its renames
    (`finish_rebuild_swap` tells them apart by the ingest lock)."""
    live, old, side = (open_store(name + suffix) for suffix in ("", OLD_SUFFIX, REBUILD_SUFFIX))
    if not live.present:
        if side.present and side.rebuild_complete:
            side.rename(name)
            side.set_rebuild_complete(False)
        elif old.present:
            old.rename(name)
            return False
    if old.present:
        old.drop()
    return live.present and side.present and side.rebuild_complete


def finish_rebuild_swap(open_store: Callable[[str], ChromaStore], name: str,
                        suffixes: Sequence[str]) -> None:
    """Complete the swap of a rebuild killed after it marked its side collection complete
    (`recover_interrupted_rebuild` returned True). Call only while holding the collection's
    ingest lock, so that no rebuild is swapping meanwhile: the companions (`suffixes`) are
    swapped in, then the chunks, as `run_ingest` would have."""
    side = open_store(name + REBUILD_SUFFIX)
    if not (side.present and side.rebuild_complete):
        return
    for suffix in suffixes:
        recover_interrupted_rebuild(open_store, name + suffix)
        companion = open_store(name + suffix + REBUILD_SUFFIX)
        if companion.present:
            _swap_in(open_store, companion, name + suffix, None)
    _swap_in(open_store, side, name, side.metadata().get("ingest"))
