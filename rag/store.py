"""The Chroma vector store: one collection of paper chunks (layout in rag/records.py).

Collection metadata records the embedding model and dimension, and an `ingest` marker that
is set while an ingest is writing (a killed ingest leaves it behind, which tells the next
open to re-sync the keyword index with what Chroma holds); a finished ingest also records
the paper count together with the chunk count it belongs to, so counting papers needs no
scan while nothing else has written since, and its token as `generation`, by which other
processes notice the write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from rag.chroma import is_missing, prefetched, unreachable
from rag.errors import CollectionError, EmbedderMismatch, StoreUnavailable
from rag.records import (
    PaperState,
    chunk_records,
    first_chunk_id,
    paper_from_json,
    paper_of,
    states_from_ids,
    states_from_metadata,
    version_ids,
)

if TYPE_CHECKING:
    import numpy as np

    from rag.models import Chunk, Paper

T = TypeVar("T")

PAGE = 5000  # records per Chroma get() page; keeps memory flat on large collections
ID_BATCH = 500  # ids or paper ids per get/delete call (SQLite variable limits, request size)
SCHEMA = 1
OLD_SUFFIX = "__old"  # a `--rebuild` swap parks the replaced collection here (rag/indexer.py)
RESOLVES = 3  # times one call follows its collection to another (see ChromaStore._call)


@dataclass(frozen=True)
class DenseHit:
    chunk_id: str
    paper_id: str
    similarity: float
    text: str
    title: str


class ChromaStore:
    """One named collection of paper chunks.

    Every Chroma call goes through `_call` (or, for calls by name, `_error`): Chroma's and
    the HTTP client's exceptions leave as CollectionError / StoreUnavailable, and a call
    whose collection a `--rebuild` replaced meanwhile follows the name to the new one."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name
        self._col: Any = None

    # -- collection lifecycle -------------------------------------------------
    def _collection(self, create: bool = False) -> Any:
        if self._col is None:
            self._col = self._resolve(create)
        return self._col

    def _resolve(self, create: bool) -> Any:
        """The collection by name. During a `--rebuild` swap the old collection is briefly
        only under `<name>__old` (rag/indexer.py); reads use it meanwhile."""
        col = self._open(self.name, create=create)
        if col is None and not create:
            col = self._open(self.name + OLD_SUFFIX, create=False)
            if col is None:  # the swap finished in between
                col = self._open(self.name, create=False)
        return col

    def _open(self, name: str, *, create: bool) -> Any:
        try:
            if create:
                return self._client.get_or_create_collection(
                    name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                    metadata={"schema": SCHEMA})
            return self._client.get_collection(name, embedding_function=None)
        except Exception as e:
            if not create and is_missing(e):
                return None
            raise self._error(e) from e

    def _call(self, op: Callable[[Any], T], default: T, *, create: bool = False,
              retry: bool = True, suspect: Callable[[T], bool] | None = None) -> T:
        """`op(collection)`, or `default` when there is no collection. Errors are converted.

        A `--rebuild` (perhaps in another process) swaps a new collection in under the name
        and drops the old one, maybe while `op` runs on it: `op` fails as "missing", or, if
        the drop fell between Chroma's reads within the call, `suspect(result)` holds (hits
        without metadata; nothing found) and the name now belongs to another collection.
        Then `op` runs again on that one (up to RESOLVES times: one swap can take two, the
        name being briefly only on `<name>__old`), so a reader never gets "nothing" from a
        collection that is not empty."""
        left = RESOLVES if retry else 0
        while True:
            col = self._collection(create=create)
            if col is None:
                return default
            try:
                out = op(col)
            except Exception as e:
                if not (left and is_missing(e)):
                    err = self._error(e)
                    if isinstance(err, StoreUnavailable):
                        # Resolve again next time: while the server stays down that fails
                        # at once, before a caller spends time (embedding a query) on a
                        # doomed call.
                        self._col = None
                    raise err from e
                self._col = None
            else:
                if not (left and suspect is not None and suspect(out)):
                    return out
                current = self._successor(col)
                if current is None:
                    return out
                self._col = current
            left -= 1

    def _successor(self, col: Any) -> Any:
        """The collection the name resolves to now, if it is not `col` (else None)."""
        try:
            current = self._resolve(create=False)
        except CollectionError:
            return None
        return None if current is None or current.id == col.id else current

    def _error(self, e: Exception) -> CollectionError:
        if isinstance(e, CollectionError):
            return e
        if unreachable(e):
            return StoreUnavailable(f"the Chroma server is unreachable ({type(e).__name__}); "
                                    "check PAPERCHAT_CHROMA_URL and that `chroma run` is up")
        if is_missing(e):
            return CollectionError(f"collection '{self.name}' no longer exists in Chroma "
                                   f"(dropped or replaced while in use): {e}")
        return CollectionError(f"Chroma error: {type(e).__name__}: {e}")

    @property
    def exists(self) -> bool:
        return self._collection() is not None

    @property
    def present(self) -> bool:
        """A collection has exactly this name now (no cached handle, no `__old` fallback)."""
        return self._open(self.name, create=False) is not None

    def metadata(self) -> dict[str, Any]:
        """Collection metadata as of when the handle was resolved (see `generation`)."""
        return self._call(lambda col: dict(col.metadata or {}), {})

    def generation(self) -> str | None:
        """Token of the last finished write, read fresh from Chroma (one metadata read)."""
        col = self._refresh()
        return None if col is None else (col.metadata or {}).get("generation")

    def _set_metadata(self, **values: Any) -> None:
        def update(col: Any) -> None:
            meta = dict(col.metadata or {})
            meta.update({k: v for k, v in values.items() if v is not None})
            for k in [k for k, v in values.items() if v is None]:
                meta.pop(k, None)
            meta.pop("hnsw:space", None)  # configuration, not metadata, in Chroma >= 1.0
            col.modify(metadata=meta)

        self._call(update, None, create=True)

    def check_embedder(self, name: str, dimension: int) -> None:
        """Raise EmbedderMismatch when the collection was built with another model."""
        meta = self.metadata()
        stored, dim = meta.get("embed_model"), meta.get("embed_dim")
        if stored is None:
            return
        if stored != name or int(dim or 0) != dimension:
            raise EmbedderMismatch(
                f"collection '{self.name}' was built with {stored} ({dim}-d vectors) but the "
                f"configured embedder is {name} ({dimension}-d); re-ingest with "
                "`paperchat ingest --rebuild` or switch the embedder back")

    def begin_write(self, embed_name: str, dimension: int, token: str) -> None:
        self._collection(create=True)
        self._set_metadata(embed_model=embed_name, embed_dim=dimension, ingest=token)

    def end_write(self, papers: int | None = None, generation: str | None = None) -> None:
        """Clear the ingest marker and record, in one metadata update: `generation` (the
        finished write's token; other processes compare it to notice the write) and the
        paper count (None: unknown) with the chunk count it belongs to."""
        chunks = None if papers is None else self.count_chunks()
        self._set_metadata(ingest=None, generation=generation, papers=papers,
                           papers_at_chunks=chunks)

    @property
    def write_in_progress(self) -> bool:
        return "ingest" in self.metadata()

    def drop(self) -> None:
        try:
            self._client.delete_collection(self.name)
        except Exception as e:
            if not is_missing(e):
                raise self._error(e) from e
        self._col = None

    def rename(self, new_name: str) -> None:
        """Rename the collection named exactly `self.name` (not its `__old` fallback)."""
        col = self._open(self.name, create=False)
        if col is None:
            raise CollectionError(f"cannot rename collection '{self.name}': it does not exist")
        try:
            col.modify(name=new_name)
        except Exception as e:
            raise self._error(e) from e
        self.name = new_name
        self._col = None

    def follow(self, name: str) -> None:
        """Address the collection as `name` from now on (another process renamed it)."""
        self.name, self._col = name, None

    def set_rebuild_complete(self, complete: bool) -> None:
        """Mark (or unmark) this side collection as a finished `--rebuild` (rag/indexer.py)."""
        self._set_metadata(rebuild_complete=True if complete else None)

    @property
    def rebuild_complete(self) -> bool:
        return bool(self.metadata().get("rebuild_complete"))

    # -- writes ---------------------------------------------------------------
    def upsert(self, papers: Sequence[Paper], chunks: Sequence[Chunk], vectors: np.ndarray,
               hashes: dict[str, str]) -> None:
        """Write the chunks of whole papers in one call (one SQLite transaction)."""
        ids, docs, metas = chunk_records(papers, chunks, hashes)
        if ids:
            self._call(lambda col: col.upsert(ids=ids, embeddings=vectors, documents=docs,
                                              metadatas=metas), None, create=True)

    def _delete(self, **where: Any) -> None:
        self._call(lambda col: col.delete(**where), None)

    def delete_stale(self, paper_id: str, keep_hash: str) -> None:
        """Remove chunks of an older version of a paper."""
        self._delete(where={"$and": [{"paper_id": paper_id}, {"hash": {"$ne": keep_hash}}]})

    def delete_papers(self, paper_ids: Sequence[str]) -> None:
        for start in range(0, len(paper_ids), ID_BATCH):
            self._delete(where={"paper_id": {"$in": list(paper_ids[start:start + ID_BATCH])}})

    def delete_versions(self, states: dict[str, PaperState], keep: dict[str, str] | None = None
                        ) -> None:
        """Remove the stored versions described by `states` (paper id -> state), except a
        paper's version whose hash is `keep[paper_id]`. Clean versions go by id (a primary
        key lookup); a paper with mixed versions falls back to a metadata filter."""
        keep = keep or {}
        ids: list[str] = []
        for pid, state in states.items():
            if state.hash and state.hash == keep.get(pid):
                continue
            found = version_ids(pid, state)
            if found is None:
                if pid in keep:
                    self.delete_stale(pid, keep[pid])
                else:
                    self.delete_papers([pid])
            else:
                ids += found
        for start in range(0, len(ids), ID_BATCH):
            self._delete(ids=ids[start:start + ID_BATCH])  # absent ids are ignored

    # -- reads ----------------------------------------------------------------
    def count_chunks(self) -> int:
        return self._call(lambda col: int(col.count()), 0, suspect=lambda n: n == 0)

    def recorded_paper_count(self) -> int | None:
        """The paper count the last ingest recorded, if nothing has written since."""
        col = self._refresh()
        if col is None:
            return 0
        meta = col.metadata or {}
        if "ingest" in meta or "papers" not in meta:
            return None
        if meta.get("papers_at_chunks") != self.count_chunks():
            return None  # written by something that did not record a count
        return int(meta["papers"])

    def paper_count(self) -> int:
        """Papers in the collection: the recorded count when still valid, else counted."""
        recorded = self.recorded_paper_count()
        return recorded if recorded is not None else self.count_papers()

    def count_papers(self) -> int:
        """Distinct papers, counted from chunk ids (~5 us a chunk; no metadata is read)."""
        return len({paper_of(cid) for cid in self.chunk_ids()})

    def _refresh(self) -> Any:
        """The collection with current metadata (another process may have written)."""
        self._col = col = self._resolve(create=False)
        return col

    def _pages(self, include: list[str], where: dict[str, Any] | None = None
               ) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            # Only the first page may move to a re-resolved collection: offsets into the
            # one a rebuild replaced would mean nothing in the new one.
            page = self._call(partial(_get, include=include, where=where, limit=PAGE,
                                      offset=offset),
                              None, retry=offset == 0, suspect=lambda page: not page["ids"])
            if page is None or not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def vectors_at(self, offset: int, limit: int) -> Any:
        """Up to `limit` chunk vectors from position `offset` (whole-collection statistics)."""
        return self._call(partial(_get, include=["embeddings"], limit=limit, offset=offset),
                          {"embeddings": []})["embeddings"]

    def paper_states(self, paper_ids: Sequence[str] | None = None) -> dict[str, PaperState]:
        """Per paper: content hash and whether all its chunks are present. With
        `paper_ids`, only those papers are looked up (cheaper when they are few)."""
        if paper_ids is None:
            pages: Iterable[dict[str, Any]] = self._pages(["metadatas"])
        else:
            pages = self._by_paper_ids(list(paper_ids), ["metadatas"])
        return states_from_metadata(meta for page in pages for meta in page["metadatas"])

    def committed_paper_states(self) -> dict[str, PaperState]:
        """`paper_states()` from chunk ids alone, ~20x cheaper than reading metadata.

        Only valid while no ingest marker is set: every ingest writes papers whole and
        clears the marker last, so then each stored version is complete."""
        return states_from_ids(self.chunk_ids())

    def _by_paper_ids(self, paper_ids: list[str], include: list[str]
                      ) -> Iterator[dict[str, Any]]:
        for start in range(0, len(paper_ids), ID_BATCH):
            where = {"paper_id": {"$in": paper_ids[start:start + ID_BATCH]}}
            page = self._call(partial(_get, where=where, include=include), None)
            if page is None:
                return
            yield page

    def chunk_ids(self) -> Iterator[str]:
        """Every chunk id, in pages (ids only: no documents or metadata are read)."""
        for page in self._pages([]):
            yield from page["ids"]

    def get_chunks(self, ids: Sequence[str]) -> Iterator[tuple[str, str, str]]:
        """(chunk id, paper id, text) for the given chunk ids that exist."""
        for start in range(0, len(ids), ID_BATCH):
            page = self._call(partial(_get, ids=list(ids[start:start + ID_BATCH]),
                                      include=["documents", "metadatas"]), None)
            if page is None:
                return
            for cid, doc, meta in zip(page["ids"], page["documents"], page["metadatas"],
                                      strict=True):
                yield cid, meta["paper_id"], doc or ""

    def chunks_of(self, paper_ids: Sequence[str]) -> Iterator[tuple[str, str, str]]:
        """(chunk id, paper id, text) of every stored chunk of these papers (what changed,
        when a write's paper ids are known)."""
        for page in self._by_paper_ids(list(paper_ids), ["documents", "metadatas"]):
            for cid, doc, meta in zip(page["ids"], page["documents"], page["metadatas"],
                                      strict=True):
                yield cid, meta["paper_id"], doc or ""

    def iter_chunks(self) -> Iterator[tuple[str, str, str]]:
        """(chunk id, paper id, text) for every chunk, in pages; the next page is read
        while the caller works on the current one (a full keyword rebuild: ~25% faster)."""
        for page in prefetched(self._pages(["documents", "metadatas"])):
            for cid, doc, meta in zip(page["ids"], page["documents"], page["metadatas"],
                                      strict=True):
                yield cid, meta["paper_id"], doc or ""

    def query(self, vector: np.ndarray, n: int) -> list[DenseHit]:
        res = self._call(lambda col: col.query(
            query_embeddings=[vector], n_results=n,
            include=["distances", "metadatas", "documents"]), None,
            suspect=lambda res: not res["ids"][0] or None in res["metadatas"][0])
        if res is None:
            return []
        # A chunk an ingest deleted between Chroma's vector search and its metadata read
        # comes back without metadata: it is gone, so it is no hit.
        return [DenseHit(cid, meta["paper_id"], 1.0 - float(dist), doc or "", meta["title"])
                for cid, dist, meta, doc in zip(res["ids"][0], res["distances"][0],
                                                res["metadatas"][0], res["documents"][0],
                                                strict=True) if meta is not None]

    def get_papers(self, paper_ids: Sequence[str], *,
                   chunk_hints: Mapping[str, str] | None = None) -> dict[str, Paper]:
        """Full records for the given papers (missing ids are simply absent).

        `chunk_hints` maps a paper id to one of its chunk ids (a search hit): its chunk 0 is
        then fetched by id. Others, and hints that went stale, use a metadata filter."""
        if not paper_ids:
            return {}
        hinted = [first_chunk_id(chunk_hints[p]) for p in paper_ids
                  if chunk_hints and chunk_hints.get(p)]

        def fetch(col: Any) -> dict[str, Paper]:
            found: dict[str, Paper] = {}
            if hinted:
                res = col.get(ids=hinted, include=["metadatas"])
                found = {m["paper_id"]: paper_from_json(m["paper"]) for m in res["metadatas"]}
            rest = [p for p in paper_ids if p not in found]
            for start in range(0, len(rest), ID_BATCH):
                res = col.get(where={"$and": [
                    {"paper_id": {"$in": rest[start:start + ID_BATCH]}}, {"chunk_index": 0}]},
                    include=["metadatas"])
                found.update({m["paper_id"]: paper_from_json(m["paper"])
                              for m in res["metadatas"]})
            return found

        return self._call(fetch, {}, suspect=lambda found: len(found) < len(paper_ids))

    def all_papers(self) -> list[Paper]:
        papers: dict[str, Paper] = {}
        for page in self._pages(["metadatas"], where={"chunk_index": 0}):
            for meta in page["metadatas"]:
                papers[meta["paper_id"]] = paper_from_json(meta["paper"])
        return sorted(papers.values(), key=lambda p: p.title.lower())

    def warm_up(self, dimension: int) -> None:
        """Resolve the collection and load its vector index (one 1-nearest query), so that
        the first search through a new client does not pay for it."""
        import numpy as np

        if self.exists and self.count_chunks():
            self.query(np.full(dimension, dimension ** -0.5, dtype=np.float32), 1)

    def heartbeat(self) -> None:
        try:
            self._client.heartbeat()
        except Exception as e:
            raise self._error(e) from e


def _get(col: Any, **kwargs: Any) -> Any:
    return col.get(**kwargs)
