"""BM25 keyword search over chunk texts, on tantivy.

Local Chroma 1.5 and `chroma run` both refuse sparse-vector indexes ("Sparse vector
indexing is not enabled in local"), so keyword search lives beside Chroma: one tantivy
index per collection, always derived from what Chroma holds. Embedded, it is a directory
under the data dir that every process on the machine shares (one writer at a time, readers
reload on each commit); with a Chroma server, each process keeps its own in memory, synced
from the server (rag/library.py). A Chroma deployment with sparse indexes could stand in
for it behind `KeywordSearch`.

tantivy does what this module once did by hand: BM25 (k1=1.2, b=0.75, Lucene's idf),
adds and deletes by term, atomic commits (a killed writer leaves the last commit, and its
unfinished files are collected later), segment merging, memory-mapped segments. Title and
abstract are one text field (the chunk text starts with the title): on SciFact, two fields
ranked worse (nDCG@10 0.665 vs 0.684 in issue 12's measurement).

Scores are reported without BM25's constant (k1 + 1) factor, as Lucene 8+ and bm25s do:
the ranking is the same, and the scale stays that of the bm25s index this replaced
(k1=1.5), on which the refusal thresholds were calibrated.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rag.analysis import KEYWORD_ANALYZER, keyword_analyzer, query_terms

if TYPE_CHECKING:
    import tantivy

__all__ = ["ChunkSource", "KeywordHit", "KeywordIndex", "KeywordSearch", "KeywordWriter",
           "query_terms"]

K1 = 1.2  # tantivy's BM25 constant (not configurable there)
HEAP_BYTES = 50_000_000  # the writer's indexing buffer; tantivy wants >= 15 MB per thread
SYNC_REBUILD_SHARE = 0.5  # a sync that would touch more than this share rebuilds instead
EXACT_DF = 2_000  # document frequencies up to this are counted over live chunks
# "every" holds one term in every chunk: its tantivy doc_freq counts the deleted chunks too.
_FIELDS = {"chunk_id": "raw", "paper_id": "raw", "every": "raw", "text": KEYWORD_ANALYZER}


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    paper_id: str
    score: float


class KeywordSearch(Protocol):
    """What retrieval needs from a keyword index (the seam for a native sparse index)."""

    def __len__(self) -> int: ...

    def search(self, query: str, n: int) -> list[KeywordHit]: ...

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]: ...


class ChunkSource(Protocol):
    """Where a sync reads chunks from (rag.store.ChromaStore)."""

    def chunk_ids(self) -> Iterable[str]: ...

    def get_chunks(self, ids: list[str]) -> Iterable[tuple[str, str, str]]: ...

    def iter_chunks(self) -> Iterable[tuple[str, str, str]]: ...


def _schema() -> tantivy.Schema:
    import tantivy

    builder = tantivy.SchemaBuilder()
    for name, tokenizer in _FIELDS.items():
        if tokenizer == "raw":  # ids: matched whole, returned with hits
            builder.add_text_field(name, stored=name != "every", tokenizer_name="raw",
                                   index_option="basic")
        else:  # BM25 needs term frequencies, not positions
            builder.add_text_field(name, tokenizer_name=tokenizer, index_option="freq")
    return builder.build()


def _foreign(directory: Path) -> bool:
    """The directory holds something else than a tantivy index with these fields and this
    analysis (the segment files of the index this replaced, an older analysis)."""
    if not (directory / "meta.json").exists():
        # Nothing yet, or only tantivy's lock files (the index is being created).
        return any(not p.name.startswith(".tantivy") for p in directory.iterdir())
    try:
        meta = json.loads((directory / "meta.json").read_text())
        fields = {f["name"]: f["options"]["indexing"]["tokenizer"] for f in meta["schema"]}
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return fields != _FIELDS


class KeywordIndex:
    """A BM25 index of (chunk id, paper id, text) in `directory` (None: in memory).

    Opening creates an empty index where there is none, and replaces one that this code
    cannot read (another format or analysis, damaged): it is derived data, rebuilt by `sync`.
    Searches read the last commit; a commit by another process shows within ~0.5 s.
    """

    def __init__(self, directory: Path | None) -> None:
        import tantivy

        self.directory = directory
        self._schema = _schema()
        self._writing = threading.Lock()  # tantivy allows one writer per index
        if directory is None:
            index = tantivy.Index(self._schema)
        else:
            if directory.is_dir() and _foreign(directory):
                shutil.rmtree(directory)  # an earlier format: rebuilt from Chroma
            directory.mkdir(parents=True, exist_ok=True)
            try:
                index = tantivy.Index(self._schema, path=str(directory), reuse=True)
            except ValueError:  # unreadable files under a valid-looking meta.json
                shutil.rmtree(directory)
                directory.mkdir(parents=True)
                index = tantivy.Index(self._schema, path=str(directory), reuse=True)
        index.register_tokenizer(KEYWORD_ANALYZER, keyword_analyzer())
        self._index = index

    # -- reads ---------------------------------------------------------------------------
    def __len__(self) -> int:
        """Live (searchable) chunks."""
        return int(self._index.searcher().num_docs)

    @property
    def segments(self) -> int:
        return int(self._index.searcher().num_segments)

    def chunk_ids(self) -> list[str]:
        """Ids of the live chunks (reads every stored id: for syncs and checks)."""
        import tantivy

        searcher = self._index.searcher()
        n = searcher.num_docs
        if not n:
            return []
        hits = searcher.search(tantivy.Query.all_query(), n, count=False).hits
        return [searcher.doc(address)["chunk_id"][0] for _, address in hits]

    def _term(self, term: str) -> tantivy.Query:
        import tantivy

        return tantivy.Query.term_query(self._schema, "text", term, index_option="freq")

    def search(self, query: str, n: int) -> list[KeywordHit]:
        """Top-n chunks by BM25; chunks sharing no term with the query are left out."""
        import tantivy

        terms = query_terms(query)
        if not terms or n <= 0:
            return []
        # One clause per query term: a repeated term counts again, as in bm25s.
        scored = tantivy.Query.boolean_query([(tantivy.Occur.Should, self._term(t))
                                              for t in terms])
        searcher = self._index.searcher()
        hits = []
        for score, address in searcher.search(scored, n, count=False).hits:
            doc = searcher.doc(address)
            hits.append(KeywordHit(doc["chunk_id"][0], doc["paper_id"][0],
                                   float(score) / (1.0 + K1)))
        return hits

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Chunks containing each analysed term (`query_terms`); 0: no live chunk uses it.

        tantivy's term statistics include chunks deleted since their segment last merged.
        Counting live chunks walks a term's postings (~2 ms for a term in 100k chunks), so
        it is done when it is cheap or needed: for terms in at most EXACT_DF chunks, and
        for terms in no more chunks than are deleted (all could be). Other counts may
        include up to that many deleted chunks; they are never 0."""
        searcher = self._index.searcher()
        deleted = searcher.doc_freq("every", "1") - searcher.num_docs
        out = {}
        for term in dict.fromkeys(terms):
            df = searcher.doc_freq("text", term)
            if df and deleted and (df <= EXACT_DF or df <= deleted):
                # tantivy-py's stub omits SearchResult.count, which it returns.
                df = searcher.search(self._term(term), 1).count  # type: ignore[attr-defined]
            out[term] = int(df)
        return out

    def reload(self) -> None:
        """Read the last commit now (another process's; tantivy also does it on its own)."""
        self._index.reload()

    # -- writes ----------------------------------------------------------------------------
    @contextmanager
    def writer(self) -> Iterator[KeywordWriter]:
        """A write session: everything done in it becomes visible at once when it ends
        (one tantivy commit), or not at all if it raises or the process dies."""
        with self._writing:
            raw = self._index.writer(heap_size=HEAP_BYTES, num_threads=1)
            try:
                yield KeywordWriter(raw)
            except BaseException:
                raw.rollback()
                raw.wait_merging_threads()  # releases the write lock
                raise
            self._commit(raw)
            self._index.reload()

    def _commit(self, raw: tantivy.IndexWriter) -> None:
        """Index what the session queued (tantivy does the work here, not in `add`), merge
        segments as its merge policy asks, and release the write lock."""
        try:
            raw.commit()
        finally:
            raw.wait_merging_threads()

    def rebuild(self, chunks: Iterable[tuple[str, str, str]]) -> None:
        """Replace the whole content with (chunk id, paper id, text) triples."""
        with self.writer() as w:
            w.delete_all()
            w.add(chunks)

    def sync(self, source: ChunkSource) -> bool:
        """Make the index hold exactly the chunks `source` holds, reading only the texts of
        chunks it lacks (or all of them when most differ). True if anything changed."""
        have = self.chunk_ids()
        if not have:  # a new index (a server process starting): one pass over the texts
            self.rebuild(source.iter_chunks())
            return len(self) > 0
        have_set = set(have)
        held = set(source.chunk_ids())
        missing, extra = held - have_set, have_set - held
        duplicated = len(have) != len(have_set)
        if not missing and not extra and not duplicated:
            return False
        if duplicated or len(missing) + len(extra) > SYNC_REBUILD_SHARE * max(len(held), 1):
            self.rebuild(source.iter_chunks())
            return True
        with self.writer() as w:
            w.delete_chunks(extra)
            w.add(source.get_chunks(sorted(missing)))
        return True


class KeywordWriter:
    """Adds and deletes inside one `KeywordIndex.writer()` session. A delete applies to
    chunks added before it, so delete a paper's old chunks before adding its new ones."""

    def __init__(self, raw: tantivy.IndexWriter) -> None:
        self._raw = raw

    def add(self, chunks: Iterable[tuple[str, str, str]]) -> int:
        """Index (chunk id, paper id, text) triples; returns how many."""
        import tantivy

        n = 0
        for chunk_id, paper_id, text in chunks:
            self._raw.add_document(tantivy.Document(chunk_id=chunk_id, paper_id=paper_id,
                                                    every="1", text=text))
            n += 1
        return n

    def delete_papers(self, paper_ids: Collection[str]) -> None:
        for paper_id in paper_ids:
            self._raw.delete_documents_by_term("paper_id", paper_id)

    def delete_chunks(self, chunk_ids: Collection[str]) -> None:
        for chunk_id in chunk_ids:
            self._raw.delete_documents_by_term("chunk_id", chunk_id)

    def delete_all(self) -> None:
        """Drop every chunk (call first: tantivy reverts the session's earlier adds too)."""
        self._raw.delete_all_documents()
