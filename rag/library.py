"""An opened collection: the Chroma store, the keyword index and the embedder, together.

Front ends build one `Library` per process and call `search`, `ingest`, `papers`.
Everything heavy (chromadb, the embedding model, llama-index) loads on first use.

Another process may ingest meanwhile (`paperchat ingest` beside `paperchat serve`). Chroma
reads see its writes at once; the keyword index is in memory, so a search checks, at most
every FRESHNESS_S seconds, whether the collection's `generation` (the token of the last
finished write) changed since the index was opened, and if so re-opens it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import IngestBusy, InputError, NotFoundError
from rag.models import IngestReport, Paper, SearchResponse

if TYPE_CHECKING:
    from rag.embedders import Embedder
    from rag.keyword import KeywordIndex
    from rag.settings import Settings
    from rag.store import ChromaStore

Progress = Callable[[int, int], None]
MODES = ("default", "bm25", "dense", "rrf", "zscore")
FRESHNESS_S = 1.0  # a search looks for other processes' writes at most this often


def embedder_identity(settings: Settings) -> tuple[str, int]:
    """(model name, dimension) of the configured embedder, without loading it."""
    es = settings.embed
    if es.provider == "fake":
        return f"fake-hashing-{es.dimensions}", es.dimensions
    if es.provider == "openai":
        return f"openai:{es.model}", es.dimensions
    from rag.embedders.minilm import DIMENSION, MODEL_NAME

    return MODEL_NAME, DIMENSION


class Library:
    """One collection, opened lazily; safe to share between threads for reads."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 client: Any = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._client = client
        self._store: ChromaStore | None = None
        self._keyword: KeywordIndex | None = None
        self._generation: str | None = None  # the write the keyword index reflects
        self._checked = 0.0  # time.monotonic() of the last generation check
        self._lock = threading.RLock()  # guards lazy initialisation
        self._write_lock = threading.Lock()  # one ingest or keyword re-open at a time

    # -- parts ----------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    from rag.embedders import make_embedder

                    self._embedder = make_embedder(self.settings)
        return self._embedder

    @property
    def embedder_name(self) -> str:
        if self._embedder is not None:
            return self._embedder.name
        return embedder_identity(self.settings)[0]

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from rag.indexer import recover_interrupted_rebuild
                    from rag.store import ChromaStore, make_client

                    if self._client is None:
                        self._client = make_client(self.settings)
                    recover_interrupted_rebuild(self._client, self.settings.collection)
                    self._store = ChromaStore(self._client, self.settings.collection)
        return self._store

    @property
    def keyword(self) -> KeywordIndex:
        if self._keyword is None:
            with self._lock:
                if self._keyword is None:
                    self._generation = self.store.generation()  # before reading: a write
                    self._keyword = self._open_keyword()  # meanwhile shows as a change
                    self._checked = time.monotonic()
        return self._keyword

    def _fresh_keyword(self) -> KeywordIndex:
        """The keyword index, re-opened first if another process finished a write since it
        was opened. Checked at most every FRESHNESS_S seconds (one metadata read), by one
        thread while no ingest runs here; the others go on with the current index."""
        keyword = self.keyword
        now = time.monotonic()
        if now - self._checked < FRESHNESS_S or not self._write_lock.acquire(blocking=False):
            return keyword
        try:
            self._checked = now
            generation = self.store.generation()
            if generation != self._generation:
                keyword = self._open_keyword(keyword)
                self._keyword, self._generation = keyword, generation
            return keyword
        finally:
            self._write_lock.release()

    def _keyword_dir(self) -> Any:
        if self.settings.chroma_url:
            return None  # server mode: the keyword index is rebuilt from Chroma in memory
        return self.settings.home / "keyword" / self.settings.collection

    def _open_keyword(self, current: KeywordIndex | None = None) -> KeywordIndex:
        """Load the index from disk and sync it with Chroma; without a readable one on disk
        (in server mode there is none), sync `current` or else rebuild from Chroma."""
        from rag.keyword import KeywordIndex

        index = KeywordIndex(self._keyword_dir())
        store = self.store
        if not index.load():
            if current is not None:
                return current.synced(store)  # reads only the chunks that differ
            index.rebuild(store.iter_chunks())
        elif store.write_in_progress or len(index) != store.count_chunks():
            index = index.synced(store)  # reads only the chunks that differ
        return index

    def check_embedder(self) -> None:
        name, dim = (self._embedder.name, self._embedder.dimension) if self._embedder \
            else embedder_identity(self.settings)
        self.store.check_embedder(name, dim)

    # -- reads ----------------------------------------------------------------
    def count(self) -> int:
        """Papers in the collection (no scan while the last ingest's record is valid)."""
        return self.store.paper_count() if self.store.exists else 0

    def is_empty(self) -> bool:
        """No chunks in the collection (checked on every search and question)."""
        if not self.store.exists:
            return True
        keyword = self._keyword
        if keyword is not None and len(keyword):
            # The open index is in step with Chroma; Chroma's count() would cost ~10 ms
            # per call at 100k papers (it grows with the collection).
            return False
        return self.store.count_chunks() == 0

    def papers(self) -> list[Paper]:
        """All papers, sorted by title."""
        return self.store.all_papers() if self.store.exists else []

    def get_paper(self, paper_id: str) -> Paper:
        found = self.store.get_papers([paper_id]) if self.store.exists else {}
        if paper_id not in found:
            raise NotFoundError(f"no paper with id {paper_id!r} in collection "
                                f"'{self.settings.collection}'")
        return found[paper_id]

    def search(self, query: str, k: int | None = None, *, mode: str | None = None
               ) -> SearchResponse:
        """Top-k papers for a query: dense + BM25, fused, aggregated to papers."""
        from rag.retrieval import hybrid_search

        query = query.strip()
        if not query:
            raise InputError("the query is empty")
        k = k or self.settings.retrieval.k
        if not 1 <= k <= 1000:
            raise InputError(f"k must be between 1 and 1000, got {k}")
        mode = mode or "default"
        if mode not in MODES:
            raise InputError(f"unknown search mode {mode!r}; choose from {', '.join(MODES)}")
        t0 = time.perf_counter()
        if self.is_empty():
            return SearchResponse(query=query, results=[], timings={"total_ms": 0.0})
        self.check_embedder()
        # The keyword index object is replaced (never mutated) by an ingest, so a search
        # that started before the swap finishes on the old one.
        response = hybrid_search(self, self._fresh_keyword(), query, k, mode)
        response.timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return response

    # -- writes ---------------------------------------------------------------
    def ingest(self, papers: Sequence[Paper], *, prune: bool = False, rebuild: bool = False,
               progress: Progress | None = None, wait: float | None = None,
               on_wait: Callable[[], None] | None = None,
               max_prune_share: float | None = None) -> IngestReport:
        """Bring the collection in line with `papers` (see rag/indexer.py).

        One writer per collection: threads of this process queue on a lock; other processes
        on this machine (a CLI ingest while the server ingests) wait for the lock file
        `<home>/locks/<collection>.lock` up to `wait` seconds (default settings.ingest_wait),
        calling `on_wait` once if they have to wait, then raise IngestBusy. With
        `max_prune_share`, a prune that would remove more than that share of the stored
        papers raises PruneRefused before writing anything."""
        from filelock import FileLock, Timeout

        from rag.indexer import run_ingest

        wait = self.settings.ingest_wait if wait is None else wait
        lock_dir = self.settings.home / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_dir / f"{self.settings.collection}.lock")
        with self._write_lock:
            try:
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    if on_wait is not None and wait > 0:
                        on_wait()
                    lock.acquire(timeout=wait)
            except Timeout:
                raise IngestBusy(
                    f"another ingest into collection '{self.settings.collection}' is running "
                    f"(lock {lock.lock_file}); nothing was written. Try again when it has "
                    "finished") from None
            try:
                return run_ingest(self, papers, prune=prune, rebuild=rebuild,
                                  progress=progress, max_prune_share=max_prune_share)
            finally:
                lock.release()

    def _replace_parts(self, store: ChromaStore | None, keyword: KeywordIndex,
                       generation: str) -> None:
        """Called by the indexer after writing: publish the new keyword index (and store),
        and the generation it wrote, so this write triggers no re-open here."""
        if store is not None:
            self._store = store
        self._keyword, self._generation = keyword, generation
        self._checked = time.monotonic()
