"""An opened collection: the Chroma store, the keyword index and the embedder, together.

Front ends build one `Library` per process and call `search`, `ingest`, `papers`.
Everything heavy (chromadb, tantivy, the embedding model, llama-index) loads on first use.

Other processes may write meanwhile (`paperchat ingest` beside `paperchat serve`). Every
finished write records a token as the collection's `generation`. A search reads it at most
every FRESHNESS_S seconds (one metadata read); when another process wrote, the Library
catches up in a background thread while searches go on with what they had (`refresh`):
- embedded: a new Chroma client, because the cached one's vector index does not see
  vectors another process added (rag/chroma.py). The keyword index lives on disk, shared
  by all processes, and reloads itself on every commit;
- with a Chroma server: the keyword index, this process's own in memory, is synced from
  Chroma (chunk ids compared, only the texts of new chunks read).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from rag.embedders import embedder_identity
from rag.errors import IngestBusy, InputError, NotFoundError
from rag.indexer import finish_rebuild_swap, recover_interrupted_rebuild, run_ingest
from rag.models import IngestReport, Paper, SearchResponse
from rag.retrieval import hybrid_search
from rag.vocab import check_k, check_mode

if TYPE_CHECKING:
    import numpy as np

    from rag.companions import Companion, CompanionStore
    from rag.db.writers import Lease, WriterLock
    from rag.embedders import Embedder
    from rag.keyword import KeywordIndex
    from rag.relevance.stage import CalibratedRelevance
    from rag.settings import Settings
    from rag.store import ChromaStore

log = logging.getLogger("paperchat.library")
Progress = Callable[[int, int], None]
FRESHNESS_S = 1.0  # a search looks for other processes' writes at most this often


class Library:
    """One collection, opened lazily; safe to share between threads."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 client: Any = None, writer_lock: WriterLock | None = None,
                 companions: Sequence[Companion] | None = None) -> None:
        """`writer_lock`: one writer per collection (default: rag.db.writers'
        make_writer_lock: a database lease with PAPERCHAT_DATABASE_URL, else a lock file).
        `companions`: collections kept beside the chunks (rag/companions.py); by default
        those `make_companions(settings)` names."""
        self.settings = settings
        if companions is None:
            from rag.companions import make_companions

            companions = make_companions(settings, lambda: self.embedder)
        self.companions: Sequence[Companion] = tuple(companions)
        self._embedder = embedder
        self._client = client
        self._writer_lock = writer_lock
        self._store: ChromaStore | None = None
        self._keyword: KeywordIndex | None = None
        self._generation: str | None = None  # the last write this Library has caught up with
        self._checked = 0.0  # time.monotonic() of the last generation check
        self._refresher: threading.Thread | None = None
        self._reranker: CalibratedRelevance | Literal[False] | None = None  # None: not built
        self._mean: tuple[str | None, np.ndarray | None] | None = None  # (generation, vector)
        self._lock = threading.RLock()  # guards lazy initialisation
        self._write_lock = threading.Lock()  # one ingest or refresh at a time

    # -- parts ----------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    from rag.embedders import make_embedder

                    self._embedder = make_embedder(self.settings)
        return self._embedder

    def embedder_identity(self) -> tuple[str, int]:
        """(name, dimension) of the embedder, without loading a configured one."""
        if self._embedder is not None:
            return self._embedder.name, self._embedder.dimension
        return embedder_identity(self.settings)

    @property
    def embedder_name(self) -> str:
        return self.embedder_identity()[0]

    @property
    def client(self) -> Any:
        """The Chroma client (embedded on disk, or HTTP to PAPERCHAT_CHROMA_URL)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from rag.chroma import make_client

                    self._client = make_client(self.settings)
        return self._client

    def open_store(self, name: str) -> ChromaStore:
        """Another collection on the same client (a rebuild's side collection)."""
        from rag.store import ChromaStore

        return ChromaStore(self.client, name)

    def companion(self, suffix: str) -> CompanionStore:
        """The companion collection `<collection><suffix>` (rag/companions.py), on the
        current client: after catching up with another process's write it reads what that
        process wrote."""
        from rag.companions import CompanionStore

        self.store  # noqa: B018 -- opening finishes a rebuild killed in its swap
        return CompanionStore(self.client, self.settings.collection + suffix)

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._recover()
                    store = self.open_store(self.settings.collection)
                    self._generation = store.generation()
                    self._checked = time.monotonic()
                    self._store = store
        return self._store

    def _recover(self) -> None:
        """Finish a `--rebuild` killed in its swap (rag/indexer.py)."""
        name = self.settings.collection
        pending = recover_interrupted_rebuild(self.open_store, name)
        for companion in self.companions:
            recover_interrupted_rebuild(self.open_store, name + companion.suffix)
        if pending:  # unless a rebuild is swapping right now (it holds the lock)
            try:
                with self._collection_lock(wait=0):
                    finish_rebuild_swap(self.open_store, name,
                                        [c.suffix for c in self.companions])
            except IngestBusy:
                pass

    @property
    def keyword(self) -> KeywordIndex:
        if self._keyword is None:
            with self._lock:
                if self._keyword is None:
                    self._keyword = self._open_keyword()
        return self._keyword

    def _open_keyword(self) -> KeywordIndex:
        """The collection's keyword index, in step with what Chroma holds."""
        from rag.keyword import KeywordIndex

        store = self.store
        if self.settings.chroma_url:  # in memory, this process's own: filled from Chroma
            index = KeywordIndex(None)
            index.sync(store)
            return index
        index = KeywordIndex(self.settings.home / "keyword" / self.settings.collection)
        if store.write_in_progress or len(index) != store.count_chunks():
            # A killed ingest (or an index in an older format). Unless another ingest is
            # running (it will commit an index in step), repair it now.
            try:
                with self._collection_lock(wait=0):
                    index.sync(store)  # reads only the chunks that differ
            except IngestBusy:
                pass
        return index

    def check_embedder(self) -> None:
        self.store.check_embedder(*self.embedder_identity())

    # -- other processes' writes ----------------------------------------------
    def _notice_other_writes(self) -> None:
        """At most every FRESHNESS_S, by one thread while no ingest runs here: if another
        process finished a write, start a background `refresh`."""
        now = time.monotonic()
        if now - self._checked < FRESHNESS_S or not self._write_lock.acquire(blocking=False):
            return
        try:
            if now - self._checked < FRESHNESS_S:
                return
            self._checked = now
            if self.store.generation() == self._generation:
                return
            if self._refresher is None or not self._refresher.is_alive():
                self._refresher = threading.Thread(target=self._refresh_quietly, daemon=True,
                                                   name="paperchat-refresh")
                self._refresher.start()
        finally:
            self._write_lock.release()

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as e:  # searches go on with what they have; the next check retries
            log.warning("could not catch up with another process's write: %s", e)

    def refresh(self) -> bool:
        """Catch up with writes other processes finished since this Library last looked
        (searches start it in the background); False if there were none."""
        with self._write_lock:
            return self._catch_up()

    def _catch_up(self) -> bool:
        generation = self.store.generation()
        if generation == self._generation:
            return False
        if self.settings.chroma_url:
            if self._keyword is not None:
                self._keyword.sync(self.store)
        else:
            from rag.chroma import make_client
            from rag.store import ChromaStore

            client = make_client(self.settings, fresh=True)
            store = ChromaStore(client, self.settings.collection)
            store.warm_up(self.embedder_identity()[1])  # loads its vectors, not a search
            self._client, self._store = client, store
            if self._keyword is not None:
                self._keyword.reload()  # its own watcher would within ~0.5 s
        self._generation = generation
        return True

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

    def mean_vector(self) -> np.ndarray | None:
        """The collection's mean chunk vector (`mean_vector` below), read once per write
        generation this Library has caught up with (the relevance stage's question model
        compares a question's best cosine with its cosine to this)."""
        store = self.store  # opening it records the generation it holds
        generation = self._generation
        cached = self._mean
        if cached is not None and cached[0] == generation:
            return cached[1]
        vector = mean_vector(store) if store.exists else None
        self._mean = (generation, vector)
        return vector

    def search(self, query: str, k: int | None = None, *, mode: str | None = None
               ) -> SearchResponse:
        """Top-k papers for a query (k: settings.retrieval.k by default): dense + BM25,
        fused, aggregated to papers."""
        query = query.strip()
        if not query:
            raise InputError("the query is empty")
        k = check_k(self.settings.retrieval.k if k is None else k)
        mode = check_mode(mode)
        t0 = time.perf_counter()
        if self.is_empty():
            return SearchResponse(query=query, results=[], timings={"total_ms": 0.0})
        self.check_embedder()
        self._notice_other_writes()
        rerank = mode == "rerank" or (mode == "default" and self.settings.relevance.rerank)
        stage = self.reranker() if rerank else None
        if stage is None:
            response = hybrid_search(self, self.keyword, query, k,
                                     "default" if mode == "rerank" else mode)
        else:  # the relevance stage re-orders the fused top candidates (rag/relevance)
            response = hybrid_search(self, self.keyword, query, stage.depth(k), "default")
            response = stage.rerank(query, response, k)
        response.timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return response

    def reranker(self) -> CalibratedRelevance | None:
        """The collection's relevance stage (rag.relevance.stage.make_reranker; None when it
        is off or the embedder is not the one its model was fitted on): mode "rerank"
        re-orders with it, and the answer path judges with it."""
        if self._reranker is None:
            from rag.relevance.stage import make_reranker

            with self._lock:
                if self._reranker is None:
                    self._reranker = make_reranker(self) or False
        return self._reranker or None

    # -- writes ---------------------------------------------------------------
    def ingest(self, papers: Sequence[Paper], *, prune: bool = False, rebuild: bool = False,
               progress: Progress | None = None, wait: float | None = None,
               on_wait: Callable[[], None] | None = None,
               max_prune_share: float | None = None,
               embedder: Embedder | None = None) -> IngestReport:
        """Bring the collection in line with `papers` (see rag/indexer.py).

        One writer per collection: threads of this process queue on a lock; other processes
        (a CLI ingest while the server ingests; other replicas, with a database) wait for
        `writer_lock` (the lock file `<home>/locks/<collection>.lock`, or a lease in the
        database) up to `wait` seconds (default settings.ingest_wait),
        calling `on_wait` once if they have to wait, then raise IngestBusy. With
        `max_prune_share`, a prune that would remove more than that share of the stored
        papers raises PruneRefused before writing anything. `embedder` (same model identity
        as the library's) embeds this ingest's documents instead of `self.embedder`, e.g.
        one running in another process (rag.embedders.worker)."""
        wait = self.settings.ingest_wait if wait is None else wait
        with self._write_lock, self._collection_lock(wait, on_wait) as lease:
            self._catch_up()  # write through a client that sees the others' writes

            def checked(done: int, total: int) -> None:  # a lost lease stops between batches
                lease.check()
                if progress is not None:
                    progress(done, total)

            written = run_ingest(self, papers, prune=prune, rebuild=rebuild,
                                 progress=checked, max_prune_share=max_prune_share,
                                 embedder=embedder)
            if written.replaced_store is not None:
                self._store = written.replaced_store
            if written.generation is not None:  # our own write: nothing to catch up with
                self._generation = written.generation
                self._checked = time.monotonic()
            return written.report

    @property
    def writer_lock(self) -> WriterLock:
        if self._writer_lock is None:
            with self._lock:
                if self._writer_lock is None:
                    from rag.db.writers import make_writer_lock

                    self._writer_lock = make_writer_lock(self.settings)
        return self._writer_lock

    @contextmanager
    def _collection_lock(self, wait: float, on_wait: Callable[[], None] | None = None
                         ) -> Iterator[Lease]:
        """One writer per collection across processes (a lock file) or machines (a database
        lease): `writer_lock`; IngestBusy after `wait` seconds. Re-entrant within a thread."""
        with self.writer_lock.hold(self.settings.collection, wait=wait,
                                   on_wait=on_wait) as lease:
            yield lease


MEAN_SAMPLE = 20_000  # chunks whose vectors give a collection's mean vector
SAMPLE_PAGE = 1000


def mean_vector(store: ChromaStore, limit: int = MEAN_SAMPLE) -> np.ndarray | None:
    """The mean of the store's chunk vectors (None: no chunks). Past `limit` chunks, the mean
    of `limit` of them, read in runs of up to SAMPLE_PAGE at offsets spread evenly through
    the collection (on SciFact's 9,545 chunks a 5,000-chunk sample moved the 807 claims'
    cosines to the mean by 0.0013 median, 0.005 at most; the sample size rules, not the
    run length)."""
    import numpy as np

    n = store.count_chunks()
    if n > limit:
        size = min(SAMPLE_PAGE, max(limit // 2, 1))
        runs = max(limit // size, 2)
        offsets = [round(i * (n - size) / (runs - 1)) for i in range(runs)]
    else:
        size = SAMPLE_PAGE * 5
        offsets = list(range(0, n, size))
    total, seen = None, 0
    for offset in offsets:
        vectors = np.asarray(store.vectors_at(offset, size), dtype=np.float64)
        if len(vectors):
            total = vectors.sum(axis=0) if total is None else total + vectors.sum(axis=0)
            seen += len(vectors)
    return total / seen if total is not None else None
