"""The Chroma vector store: embedded `PersistentClient` or a `chroma run` server.

Layout of one collection:
- one record per chunk, id `<paper_id>#<hash>#<i>`; metadata `paper_id`, `hash` (the paper's
  content hash), `chunk_index`, `n_chunks`, `title`; chunk 0 also carries the paper's full
  record (`paper` as JSON) so results and listings need no second store;
- collection metadata records the embedding model and dimension, and an `ingest` marker
  that is set while an ingest is writing (a killed ingest leaves it behind, which tells the
  next open to rebuild the keyword index from what Chroma holds).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from rag.errors import CollectionError, EmbedderMismatch, StoreUnavailable
from rag.models import Chunk, Paper

if TYPE_CHECKING:
    import numpy as np

    from rag.settings import Settings

PAGE = 5000  # records per Chroma get() page; keeps memory flat on large collections
SCHEMA = 1


@dataclass(frozen=True)
class PaperState:
    """What the store holds for one paper."""

    hash: str
    chunks_present: int
    chunks_expected: int

    @property
    def complete(self) -> bool:
        return self.chunks_present == self.chunks_expected


@dataclass(frozen=True)
class DenseHit:
    chunk_id: str
    paper_id: str
    similarity: float
    text: str
    title: str


def make_client(settings: Settings) -> Any:
    """A Chroma client: HTTP when PAPERCHAT_CHROMA_URL is set, else embedded on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise CollectionError(f"PAPERCHAT_CHROMA_URL is not a URL: {settings.chroma_url!r}")
        try:
            return chromadb.HttpClient(host=url.hostname, port=url.port or 8000,
                                       ssl=url.scheme == "https", settings=chroma_settings)
        except Exception as e:  # chromadb raises plain ValueError/ConnectionError here
            raise StoreUnavailable(f"cannot reach the Chroma server at {settings.chroma_url}: "
                                   "is `chroma run` up?") from e
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def chunk_id(chunk: Chunk, content_hash: str) -> str:
    return f"{chunk.paper_id}#{content_hash}#{chunk.index}"


class ChromaStore:
    """One named collection of paper chunks."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name
        self._col: Any = None

    # -- collection lifecycle -------------------------------------------------
    def _collection(self, create: bool = False) -> Any:
        if self._col is None:
            self._col = self._open(self.name, create=create)
        return self._col

    def _open(self, name: str, *, create: bool) -> Any:
        try:
            if create:
                return self._client.get_or_create_collection(
                    name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                    metadata={"schema": SCHEMA})
            return self._client.get_collection(name, embedding_function=None)
        except Exception as e:
            if not create and _is_missing(e):
                return None
            raise _store_error(e) from e

    @property
    def exists(self) -> bool:
        return self._collection() is not None

    def metadata(self) -> dict[str, Any]:
        col = self._collection()
        return dict(col.metadata or {}) if col is not None else {}

    def _set_metadata(self, **values: Any) -> None:
        col = self._collection(create=True)
        meta = dict(col.metadata or {})
        meta.update({k: v for k, v in values.items() if v is not None})
        for k in [k for k, v in values.items() if v is None]:
            meta.pop(k, None)
        meta.pop("hnsw:space", None)  # configuration, not metadata, in Chroma >= 1.0
        col.modify(metadata=meta)

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

    def end_write(self) -> None:
        self._set_metadata(ingest=None)

    @property
    def write_in_progress(self) -> bool:
        return "ingest" in self.metadata()

    def drop(self) -> None:
        try:
            self._client.delete_collection(self.name)
        except Exception as e:
            if not _is_missing(e):
                raise _store_error(e) from e
        self._col = None

    def rename(self, new_name: str) -> None:
        self._collection().modify(name=new_name)
        self.name = new_name
        self._col = None

    # -- writes ---------------------------------------------------------------
    def upsert(self, papers: Sequence[Paper], chunks: Sequence[Chunk], vectors: np.ndarray,
               hashes: dict[str, str]) -> None:
        """Write the chunks of whole papers in one call (one SQLite transaction)."""
        by_id = {p.id: p for p in papers}
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.paper_id] = counts.get(c.paper_id, 0) + 1
        ids, docs, metas = [], [], []
        for c in chunks:
            p = by_id[c.paper_id]
            meta: dict[str, Any] = {"paper_id": c.paper_id, "hash": hashes[c.paper_id],
                                    "chunk_index": c.index, "n_chunks": counts[c.paper_id],
                                    "title": p.title}
            if c.index == 0:
                meta["paper"] = json.dumps(p.to_dict(), ensure_ascii=False)
            ids.append(chunk_id(c, hashes[c.paper_id]))
            docs.append(c.text)
            metas.append(meta)
        if ids:
            try:
                self._collection(create=True).upsert(ids=ids, embeddings=vectors,
                                                     documents=docs, metadatas=metas)
            except Exception as e:
                raise _store_error(e) from e

    def delete_stale(self, paper_id: str, keep_hash: str) -> None:
        """Remove chunks of an older version of a paper."""
        self._collection().delete(where={"$and": [{"paper_id": paper_id},
                                                  {"hash": {"$ne": keep_hash}}]})

    def delete_papers(self, paper_ids: Sequence[str]) -> None:
        for start in range(0, len(paper_ids), 500):
            batch = list(paper_ids[start:start + 500])
            self._collection().delete(where={"paper_id": {"$in": batch}})

    # -- reads ----------------------------------------------------------------
    def count_chunks(self) -> int:
        col = self._collection()
        return int(col.count()) if col is not None else 0

    def _pages(self, include: list[str], where: dict[str, Any] | None = None
               ) -> Iterator[dict[str, Any]]:
        col = self._collection()
        if col is None:
            return
        offset = 0
        while True:
            try:
                page = col.get(include=include, where=where, limit=PAGE, offset=offset)
            except Exception as e:
                raise _store_error(e) from e
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def paper_states(self) -> dict[str, PaperState]:
        """Per paper: content hash and whether all its chunks are present."""
        groups: dict[tuple[str, str], list[int]] = {}
        for page in self._pages(["metadatas"]):
            for meta in page["metadatas"]:
                key = (meta["paper_id"], meta["hash"])
                groups.setdefault(key, [0, int(meta["n_chunks"])])[0] += 1
        states: dict[str, PaperState] = {}
        for (pid, h), (present, expected) in groups.items():
            state = PaperState(h, present, expected)
            # Two versions side by side means a write was interrupted: prefer an
            # incomplete marker so the next ingest rewrites the paper.
            if pid in states:
                state = PaperState("", 0, 1)
            states[pid] = state
        return states

    def iter_chunks(self) -> Iterator[tuple[str, str, str]]:
        """(chunk id, paper id, text) for every chunk, in pages."""
        for page in self._pages(["documents", "metadatas"]):
            for cid, doc, meta in zip(page["ids"], page["documents"], page["metadatas"],
                                      strict=True):
                yield cid, meta["paper_id"], doc or ""

    def query(self, vector: np.ndarray, n: int) -> list[DenseHit]:
        col = self._collection()
        if col is None:
            return []
        try:
            res = col.query(query_embeddings=[vector], n_results=n,
                            include=["distances", "metadatas", "documents"])
        except Exception as e:
            raise _store_error(e) from e
        return [DenseHit(cid, meta["paper_id"], 1.0 - float(dist), doc or "", meta["title"])
                for cid, dist, meta, doc in zip(res["ids"][0], res["distances"][0],
                                                res["metadatas"][0], res["documents"][0],
                                                strict=True)]

    def get_papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """Full records for the given papers (missing ids are simply absent)."""
        if not paper_ids:
            return {}
        col = self._collection()
        if col is None:
            return {}
        try:
            res = col.get(where={"$and": [{"paper_id": {"$in": list(paper_ids)}},
                                          {"chunk_index": 0}]}, include=["metadatas"])
        except Exception as e:
            raise _store_error(e) from e
        return {m["paper_id"]: paper_from_json(m["paper"]) for m in res["metadatas"]}

    def all_papers(self) -> list[Paper]:
        papers: dict[str, Paper] = {}
        for page in self._pages(["metadatas"], where={"chunk_index": 0}):
            for meta in page["metadatas"]:
                papers[meta["paper_id"]] = paper_from_json(meta["paper"])
        return sorted(papers.values(), key=lambda p: p.title.lower())

    def heartbeat(self) -> None:
        try:
            self._client.heartbeat()
        except Exception as e:
            raise _store_error(e) from e


def paper_from_json(raw: str) -> Paper:
    d = json.loads(raw)
    d["authors"] = tuple(d.get("authors") or ())
    d["categories"] = tuple(d.get("categories") or ())
    return Paper(**d)


def _is_missing(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return "does not exist" in text or "notfound" in text or "not found" in text


def _store_error(e: Exception) -> CollectionError:
    text = f"{type(e).__name__}: {e}"
    if any(s in text.lower() for s in ("connect", "timed out", "timeout", "refused")):
        return StoreUnavailable(f"the Chroma server is unreachable ({type(e).__name__}); "
                                "check PAPERCHAT_CHROMA_URL and that `chroma run` is up")
    return CollectionError(f"Chroma error: {text}")
