"""Sentence vectors written at ingest: the `<collection>__sentences` companion collection.

For each paper the ingest writes (rag/companions.py), its title and every sentence of its
abstract (`rag.relevance.sentences.paper_sentences`, the split the query-time path uses)
are embedded with the collection's embedder and stored as records
`<paper_id>#<hash>#t` (title) and `<paper_id>#<hash>#s<i>` with metadata paper_id, hash,
kind ("title" | "sentence") and i. The relevance stage reads them back per candidate
(`StoredSentences`); papers without records (a collection ingested before this existed)
are embedded at query time instead (and kept in the stage's in-memory sentence cache), as
are papers whose records do not match the text the search returned (another version).

Query time does not write what it embedded back: a read path must not write (readers may be
many replicas, or a read-only client), a reader's version of a paper may already be
replaced by an ingest running meanwhile, and the ingest lock would serialise questions
behind ingests. The ingest fills in missing records instead (`missing`, called for
unchanged papers by rag.companions.backfill): an ordinary re-ingest of the same files.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.relevance.sentences import EmbeddedSentences, PaperSentences, paper_sentences

if TYPE_CHECKING:
    from rag.embedders import Embedder
    from rag.models import Paper, SearchHit

SUFFIX = "__sentences"
LOOKUP_BATCH = 5000  # record ids per lookup (well under SQLite's variable limit)


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
              hashes: dict[str, str], *, embedder: Embedder | None = None) -> None:
        if not papers:
            return
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        for p in papers:
            h = hashes.get(p.id, "")
            for i, sent in enumerate(paper_sentences(p.abstract)):
                ids.append(f"{p.id}#{h}#s{i}")
                texts.append(sent)
                metas.append({"paper_id": p.id, "hash": h, "kind": "sentence", "i": i})
        n = len(ids)  # the titles go last: a paper's title record says it is complete
        for p in papers:
            h = hashes.get(p.id, "")
            ids.append(f"{p.id}#{h}#t")
            texts.append(p.title)
            metas.append({"paper_id": p.id, "hash": h, "kind": "title", "i": 0})
        vectors = np.asarray((embedder or self._embedder()).embed_documents(texts),
                             dtype=np.float32)
        # Older versions of these papers go first (their ids carry another hash).
        self.remove(store, [p.id for p in papers])
        store.put(ids[:n], embeddings=vectors[:n], documents=texts[:n], metadatas=metas[:n])
        store.put(ids[n:], embeddings=vectors[n:], documents=texts[n:], metadatas=metas[n:])

    def remove(self, store: CompanionStore, paper_ids: Sequence[str]) -> None:
        if paper_ids:
            store.remove(where={"paper_id": {"$in": list(paper_ids)}})

    def missing(self, store: CompanionStore, hashes: dict[str, str]) -> list[str]:
        """Papers without the title record of their current version (written last)."""
        want = {f"{pid}#{h}#t": pid for pid, h in hashes.items()}
        keys = list(want)
        have: set[str] = set()
        for start in range(0, len(keys), LOOKUP_BATCH):
            have.update(store.fetch(ids=keys[start:start + LOOKUP_BATCH], include=[])["ids"])
        return [pid for key, pid in want.items() if key not in have]


class StoredSentences:
    """`SentenceSource` reading the companion, embedding at query time what is missing.

    Papers read from the store are kept in memory (LRU, `max_papers`): a paper retrieved
    again costs no Chroma read. Each use checks the kept records against the hit's title and
    abstract, so a paper changed by an ingest since is read (or embedded) afresh."""

    def __init__(self, store: Callable[[], CompanionStore], fallback: EmbeddedSentences,
                 max_papers: int = 2048) -> None:
        self._store = store
        self._fallback = fallback
        self._kept: OrderedDict[str, tuple[str, PaperSentences]] = OrderedDict()
        self._max = max_papers
        self._lock = threading.Lock()

    def sentences(self, hits: Sequence[SearchHit]) -> dict[str, PaperSentences]:
        split = {h.paper_id: (h.title, paper_sentences(h.abstract or h.snippet)) for h in hits}
        out: dict[str, PaperSentences] = {}
        with self._lock:
            for pid, (title, texts) in split.items():
                kept = self._kept.get(pid)
                if kept is not None and kept[0] == title and list(kept[1].texts) == texts:
                    self._kept.move_to_end(pid)
                    out[pid] = kept[1]
        ids = [pid for pid in split if pid not in out]
        read = self._read(ids, split) if ids else {}
        if read:
            with self._lock:
                for pid, found in read.items():
                    self._kept[pid] = (split[pid][0], found)
                    self._kept.move_to_end(pid)
                while len(self._kept) > self._max:
                    self._kept.popitem(last=False)
        out.update(read)
        missing = [h for h in hits if h.paper_id not in out]
        if missing:
            out.update(self._fallback.sentences(missing))
        return out

    def _read(self, ids: list[str], split: dict[str, tuple[str, list[str]]]
              ) -> dict[str, PaperSentences]:
        """The stored records of these papers that match the hits' text."""
        got = self._store().fetch(where={"paper_id": {"$in": ids}},
                                  include=["embeddings", "documents", "metadatas"])
        parts: dict[str, dict[int, tuple[str, np.ndarray]]] = {}
        titles: dict[str, tuple[str, np.ndarray]] = {}
        embeddings = got.get("embeddings")
        for doc, meta, vec in zip(got.get("documents") or [], got.get("metadatas") or [],
                                  embeddings if embeddings is not None else [], strict=False):
            pid = str(meta["paper_id"])
            if meta.get("kind") == "title":
                titles[pid] = (doc, np.asarray(vec, dtype=np.float32))
            else:
                parts.setdefault(pid, {})[int(meta["i"])] = (doc, np.asarray(vec,
                                                                             dtype=np.float32))
        out: dict[str, PaperSentences] = {}
        for pid in ids:
            if pid not in titles:  # not written at ingest: embedded at query time
                continue
            sents = [parts[pid][i] for i in sorted(parts.get(pid, {}))]
            texts = tuple(s for s, _ in sents)
            # Records of another version of the paper (an ingest writing it right now, or
            # one made with the companion switched off) are not used.
            if titles[pid][0] != split[pid][0] or list(texts) != split[pid][1]:
                continue
            dim = titles[pid][1].shape[0]
            out[pid] = PaperSentences(texts, np.array([v for _, v in sents]) if sents
                                      else np.zeros((0, dim), dtype=np.float32),
                                      title=titles[pid][1])
        return out
