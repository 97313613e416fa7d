"""Sentence vectors written at ingest: the `<collection>__sentences` companion collection.

For each paper the ingest writes (rag/companions.py), its title and every sentence of its
abstract (`rag.relevance.sentences.paper_sentences`, the split the query-time path uses)
are embedded with the collection's embedder and stored as records
`<paper_id>#<hash>#t` (title) and `<paper_id>#<hash>#s<i>` with metadata paper_id, hash,
kind ("title" | "sentence") and i. The relevance stage reads them back per candidate
(`StoredSentences`); papers without records (a collection ingested before this existed)
are embedded at query time instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.relevance.sentences import EmbeddedSentences, PaperSentences, paper_sentences

if TYPE_CHECKING:
    from rag.embedders import Embedder
    from rag.models import Paper, SearchHit

SUFFIX = "__sentences"


class CompanionStore(Protocol):
    """What this module needs of rag.companions.CompanionStore (named here: rag.companions
    imports this module)."""

    def put(self, ids: Sequence[str], *, embeddings: Any = None,
            documents: Sequence[str] | None = None,
            metadatas: Sequence[dict[str, Any]] | None = None) -> None: ...

    def remove(self, *, ids: Sequence[str] | None = None,
               where: dict[str, Any] | None = None) -> None: ...

    def fetch(self, **get_kwargs: Any) -> dict[str, Any]: ...


class SentenceCompanion:
    """`rag.companions.Companion` that stores each paper's title and sentence vectors."""

    suffix = SUFFIX

    def __init__(self, embedder: Callable[[], Embedder]) -> None:
        self._embedder = embedder  # the Library's, built on first use

    def write(self, store: CompanionStore, papers: Sequence[Paper],
              hashes: dict[str, str]) -> None:
        if not papers:
            return
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        for p in papers:
            h = hashes.get(p.id, "")
            ids.append(f"{p.id}#{h}#t")
            texts.append(p.title)
            metas.append({"paper_id": p.id, "hash": h, "kind": "title", "i": 0})
            for i, sent in enumerate(paper_sentences(p.abstract)):
                ids.append(f"{p.id}#{h}#s{i}")
                texts.append(sent)
                metas.append({"paper_id": p.id, "hash": h, "kind": "sentence", "i": i})
        vectors = self._embedder().embed_documents(texts)
        # Older versions of these papers go first (their ids carry another hash).
        self.remove(store, [p.id for p in papers])
        store.put(ids, embeddings=np.asarray(vectors, dtype=np.float32), documents=texts,
                  metadatas=metas)

    def remove(self, store: CompanionStore, paper_ids: Sequence[str]) -> None:
        if paper_ids:
            store.remove(where={"paper_id": {"$in": list(paper_ids)}})


class StoredSentences:
    """`SentenceSource` reading the companion, embedding at query time what is missing."""

    def __init__(self, store: Callable[[], CompanionStore], fallback: EmbeddedSentences
                 ) -> None:
        self._store = store
        self._fallback = fallback

    def sentences(self, hits: Sequence[SearchHit]) -> dict[str, PaperSentences]:
        ids = list(dict.fromkeys(h.paper_id for h in hits))
        got = self._store().fetch(where={"paper_id": {"$in": ids}},
                                  include=["embeddings", "documents", "metadatas"])
        parts: dict[str, dict[int, tuple[str, np.ndarray]]] = {}
        titles: dict[str, np.ndarray] = {}
        embeddings = got.get("embeddings")
        for doc, meta, vec in zip(got.get("documents") or [], got.get("metadatas") or [],
                                  embeddings if embeddings is not None else [], strict=False):
            pid = str(meta["paper_id"])
            if meta.get("kind") == "title":
                titles[pid] = np.asarray(vec, dtype=np.float32)
            else:
                parts.setdefault(pid, {})[int(meta["i"])] = (doc, np.asarray(vec,
                                                                             dtype=np.float32))
        out: dict[str, PaperSentences] = {}
        for pid in ids:
            if pid not in titles:  # not written at ingest: embedded below
                continue
            sents = [parts[pid][i] for i in sorted(parts.get(pid, {}))]
            dim = titles[pid].shape[0]
            out[pid] = PaperSentences(tuple(s for s, _ in sents),
                                      np.array([v for _, v in sents]) if sents
                                      else np.zeros((0, dim), dtype=np.float32),
                                      title=titles[pid])
        missing = [h for h in hits if h.paper_id not in out]
        if missing:
            out.update(self._fallback.sentences(missing))
        return out
