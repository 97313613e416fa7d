"""BM25 keyword index (bm25s) kept beside Chroma.

Local Chroma 1.5 refuses sparse-vector indexes ("Sparse vector indexing is not enabled in
local"), so keyword search lives here. It is always derived from what Chroma holds: rebuilt
after each ingest that changed something, and on open whenever it disagrees with Chroma
(chunk count differs, or an ingest was interrupted). A Chroma deployment with sparse
indexes could replace this class behind the same two methods (`search`, `rebuild`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_STATE = "state.json"


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    paper_id: str
    score: float


def _tokenize(texts: list[str], *, as_ids: bool) -> Any:
    import bm25s
    import Stemmer

    return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                          return_ids=as_ids, show_progress=False)


def query_terms(text: str) -> list[str]:
    """The stemmed, stopword-free terms BM25 sees for a text."""
    return list(_tokenize([text], as_ids=False)[0])


class KeywordIndex:
    """A BM25 index over chunk texts, persisted in `directory` (None = memory only)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._bm25: Any = None
        self.chunk_ids: list[str] = []
        self.paper_ids: list[str] = []

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def load(self) -> bool:
        """Load from disk; False when there is nothing (or nothing readable) there."""
        if self.directory is None or not (self.directory / _STATE).is_file():
            return False
        try:
            import bm25s

            state = json.loads((self.directory / _STATE).read_text())
            self.chunk_ids, self.paper_ids = state["chunk_ids"], state["paper_ids"]
            self._bm25 = (bm25s.BM25.load(str(self.directory / "bm25"))
                          if self.chunk_ids else None)
            return True
        except (OSError, ValueError, KeyError):
            self.chunk_ids, self.paper_ids, self._bm25 = [], [], None
            return False

    def rebuild(self, chunks: Iterable[tuple[str, str, str]]) -> None:
        """Index (chunk id, paper id, text) triples from scratch and persist atomically."""
        import bm25s

        ids, pids, texts = [], [], []
        for cid, pid, text in chunks:
            ids.append(cid)
            pids.append(pid)
            texts.append(text)
        bm25 = None
        if texts:
            bm25 = bm25s.BM25()
            bm25.index(_tokenize(texts, as_ids=True), show_progress=False)
        self._bm25, self.chunk_ids, self.paper_ids = bm25, ids, pids
        if self.directory is not None:
            self._persist()

    def _persist(self) -> None:
        assert self.directory is not None
        tmp = self.directory.with_name(self.directory.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / _STATE).write_text(json.dumps({"chunk_ids": self.chunk_ids,
                                              "paper_ids": self.paper_ids}))
        # Swap directories so a reader never sees a half-written index.
        old = self.directory.with_name(self.directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.directory.exists():
            os.replace(self.directory, old)
        os.replace(tmp, self.directory)
        shutil.rmtree(old, ignore_errors=True)

    def search(self, query: str, n: int) -> list[KeywordHit]:
        """Top-n chunks by BM25; chunks scoring 0 (no shared term) are left out."""
        if self._bm25 is None or not self.chunk_ids:
            return []
        terms = _tokenize([query], as_ids=False)
        if not terms[0]:
            return []
        n = min(n, len(self.chunk_ids))
        docs, scores = self._bm25.retrieve(terms, k=n, show_progress=False, n_threads=1)
        return [KeywordHit(self.chunk_ids[int(d)], self.paper_ids[int(d)], float(s))
                for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
