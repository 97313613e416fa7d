"""BM25 keyword index kept beside Chroma, updated incrementally.

Local Chroma 1.5 refuses sparse-vector indexes ("Sparse vector indexing is not enabled in
local"), so keyword search lives here. It is always derived from what Chroma holds: an
ingest applies exactly what it wrote (new chunks in, replaced and removed papers out), and
an open re-syncs it whenever it disagrees with Chroma (chunk count differs, or an ingest
was interrupted). A Chroma deployment with sparse indexes could replace this class behind
the same methods (`search`, `rebuild`, `updated`, `synced`).

Why not one bm25s index rebuilt after every ingest: at 100k papers re-tokenising every
chunk cost ~30 s per ingest, so adding 100 papers cost as much as re-indexing everything.
Here the index is a list of immutable segments (term postings of the chunks one ingest
wrote) plus, per segment, a mask of rows deleted since. An ingest tokenises only its own
chunks and writes one small segment; small segments merge log-structured, so each chunk is
rewritten O(log n) times and a query sees a handful of segments. BM25 statistics (document
count, average length, document frequencies) change with every ingest, so scores are
computed at query time from term frequencies over the live rows. They equal what
`bm25s.BM25()` (lucene variant, k1=1.5, b=0.75) built from scratch on the same chunks gives,
bit for bit (tests/rag/test_scale_keyword.py), and the tokenizer is bm25s's: lowercase,
`\\b\\w\\w+\\b`, bm25s's English stopwords, Snowball English stemmer.

On disk (`directory`): `manifest.json` names the segments, their deletion masks and the
vocabulary files; every other file is written under a fresh name first, and replacing the
manifest commits a version atomically. Files no longer named are removed afterwards.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rag.store import ChromaStore

K1 = 1.5
B = 0.75
FORMAT = 2
MANIFEST = "manifest.json"
MERGE_FACTOR = 4  # merge the newest segment into the previous one once it is >= 1/4 its size
BUILD_BATCH = 4096  # chunks tokenised at a time by a full rebuild (bounds its memory)
SYNC_REBUILD_SHARE = 0.5  # a re-sync that would touch more than this share rebuilds instead
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (scikit-learn's) token pattern
# For ASCII text the pattern means "runs of [A-Za-z0-9_] of length >= 2": translate+split
# finds the same words ~2.5x faster than the regex (tests compare them).
_ASCII_NON_WORD = str.maketrans({chr(i): " " for i in range(128)
                                 if not (chr(i).isalnum() or chr(i) == "_")})
_MAX_TF = np.iinfo(np.uint16).max


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    paper_id: str
    score: float


# -- tokenizer -----------------------------------------------------------------------------
def _words(lowered: str) -> list[str]:
    if lowered.isascii():
        return [w for w in lowered.translate(_ASCII_NON_WORD).split() if len(w) > 1]
    return _TOKEN.findall(lowered)


class _Tokenizer:
    """bm25s.tokenize's pipeline: lowercase, regex, bm25s's English stopwords, stemmer."""

    def __init__(self) -> None:
        import Stemmer
        from bm25s.tokenization import _infer_stopwords  # the list bm25s uses for "en"

        self.stop = frozenset(_infer_stopwords("en"))
        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()  # a PyStemmer object is not thread-safe

    def stem(self, words: list[str]) -> list[str]:
        with self._lock:
            return list(self._stemmer.stemWords(words))

    def terms(self, texts: Sequence[str]) -> list[list[str]]:
        stop = self.stop
        raw = [[t for t in _words(text.lower()) if t not in stop] for text in texts]
        unique = list({t for doc in raw for t in doc})
        stems = dict(zip(unique, self.stem(unique), strict=True))
        return [[stems[t] for t in doc] for doc in raw]


_tokenizer: _Tokenizer | None = None
_tokenizer_lock = threading.Lock()


def _get_tokenizer() -> _Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                _tokenizer = _Tokenizer()
    return _tokenizer


def _terms(texts: Sequence[str]) -> list[list[str]]:
    return _get_tokenizer().terms(texts)


def _encode(texts: Sequence[str], vocab: _Vocab) -> tuple[np.ndarray, np.ndarray]:
    """(term ids of all texts flattened, terms per text): what `_terms` gives, as ids."""
    return vocab.encode(texts)


def query_terms(text: str) -> list[str]:
    """The stemmed, stopword-free terms BM25 sees for a text."""
    return _terms([text])[0]


# -- segments ------------------------------------------------------------------------------
class _Vocab:
    """Term -> id, append-only (ids never change within one index lineage)."""

    MAX_RAW = 2_000_000  # cached raw words; the cache restarts beyond (~100 MB)

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self.terms: list[str] = list(terms)
        self.ids: dict[str, int] = {t: i for i, t in enumerate(self.terms)}
        self.saved = len(self.terms)  # terms[:saved] are in the files listed by the manifest
        self.files: list[str] = []
        self._raw: dict[str, int] = {}  # lowercased word -> term id, -1 for a stopword
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Term ids of all texts (flattened) and the number per text, adding unseen terms.

        Same terms as `_terms`, but each distinct word is stemmed and looked up once and
        the per-word work runs in C (map over a dict), ~3x faster than per-word Python."""
        words = [_words(text.lower()) for text in texts]
        per_text = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        flat = list(itertools.chain.from_iterable(words))
        del words
        tokenizer = _get_tokenizer()
        with self._lock:
            raw, ids, terms = self._raw, self.ids, self.terms
            new = list(set(flat).difference(raw))
            if len(raw) + len(new) > self.MAX_RAW:
                raw.clear()
                new = list(set(flat))
            words_to_stem = [w for w in new if w not in tokenizer.stop]
            for w, stem in zip(words_to_stem, tokenizer.stem(words_to_stem), strict=True):
                tid = ids.get(stem)
                if tid is None:
                    tid = ids[stem] = len(terms)
                    terms.append(stem)
                raw[w] = tid
            for w in new:
                raw.setdefault(w, -1)
            out = np.fromiter(map(raw.__getitem__, flat), dtype=np.int32, count=len(flat))
        text_of = np.repeat(np.arange(len(per_text)), per_text)
        keep = out >= 0
        counts = np.bincount(text_of[keep], minlength=len(per_text)).astype(np.int32)
        return out[keep], counts


@dataclass(eq=False)
class _Segment:
    """Postings of a fixed set of chunks: for each term, the rows containing it and how often."""

    name: str
    chunk_ids: list[str]
    paper_ids: list[str]
    lengths: np.ndarray  # int32 [rows]: terms per chunk (after stopwords), BM25's |d|
    terms: np.ndarray  # int32 [t], sorted term ids present
    indptr: np.ndarray  # int64 [t + 1]: postings of terms[j] are rows[indptr[j]:indptr[j+1]]
    rows: np.ndarray  # int32 [nnz], ascending within a term
    tfs: np.ndarray  # uint16 [nnz]
    _by_paper: dict[str, list[int]] | None = field(default=None, repr=False)
    _by_chunk: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray] | None:
        j = int(np.searchsorted(self.terms, term))
        if j == len(self.terms) or self.terms[j] != term:
            return None
        lo, hi = int(self.indptr[j]), int(self.indptr[j + 1])
        return self.rows[lo:hi], self.tfs[lo:hi]

    def rows_of_papers(self, paper_ids: Iterable[str]) -> list[int]:
        if self._by_paper is None:
            by: dict[str, list[int]] = {}
            for row, pid in enumerate(self.paper_ids):
                by.setdefault(pid, []).append(row)
            self._by_paper = by
        return [row for pid in paper_ids for row in self._by_paper.get(pid, ())]

    def rows_of_chunks(self, chunk_ids: Iterable[str]) -> list[int]:
        if self._by_chunk is None:
            self._by_chunk = {cid: row for row, cid in enumerate(self.chunk_ids)}
        return [row for cid in chunk_ids if (row := self._by_chunk.get(cid)) is not None]

    def posting_terms(self) -> np.ndarray:
        return np.repeat(self.terms, np.diff(self.indptr))


def _new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class _Builder:
    """Accumulates tokenised chunks into one segment without holding their texts."""

    def __init__(self, vocab: _Vocab) -> None:
        self.vocab = vocab
        self._reset()

    def _reset(self) -> None:
        self.chunk_ids: list[str] = []
        self.paper_ids: list[str] = []
        self._lengths: list[np.ndarray] = []
        self._terms: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._tfs: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def add(self, chunks: Iterable[tuple[str, str, str]]) -> None:
        ids, pids, texts = [], [], []
        for cid, pid, text in chunks:
            ids.append(cid)
            pids.append(pid)
            texts.append(text)
        if not ids:
            return
        flat, lengths = _encode(texts, self.vocab)
        del texts
        base = len(self.chunk_ids)
        rows = np.repeat(np.arange(base, base + len(ids), dtype=np.int64), lengths)
        # One key per (term, row) pair; unique() sorts by term, then row, and counts tf.
        span = np.int64(base + len(ids))
        keys, counts = np.unique(flat.astype(np.int64) * span + rows, return_counts=True)
        self._terms.append((keys // span).astype(np.int32))
        self._rows.append((keys % span).astype(np.int32))
        self._tfs.append(np.minimum(counts, _MAX_TF).astype(np.uint16))
        self._lengths.append(lengths)
        self.chunk_ids += ids
        self.paper_ids += pids

    def build(self) -> _Segment | None:
        if not self.chunk_ids:
            return None
        terms = np.concatenate(self._terms)
        rows = np.concatenate(self._rows)
        tfs = np.concatenate(self._tfs)
        # Batches are each sorted by (term, row) and their rows ascend batch by batch,
        # so a stable sort by term keeps rows ascending within every term.
        order = np.argsort(terms, kind="stable")
        seg = _assemble(_new_name("s"), self.chunk_ids, self.paper_ids,
                        np.concatenate(self._lengths), terms[order], rows[order], tfs[order])
        self._reset()  # the parts are in the segment now
        return seg


def _assemble(name: str, chunk_ids: list[str], paper_ids: list[str], lengths: np.ndarray,
              posting_terms: np.ndarray, rows: np.ndarray, tfs: np.ndarray) -> _Segment:
    """A segment from postings sorted by (term, row)."""
    terms, starts = np.unique(posting_terms, return_index=True)
    indptr = np.empty(len(terms) + 1, dtype=np.int64)
    indptr[:-1] = starts
    indptr[-1] = len(posting_terms)
    return _Segment(name, chunk_ids, paper_ids, lengths.astype(np.int32, copy=False),
                    terms.astype(np.int32, copy=False), indptr,
                    rows.astype(np.int32, copy=False), tfs.astype(np.uint16, copy=False))


@dataclass(frozen=True)
class _Part:
    """A segment in one index version, with the rows deleted from it since it was written."""

    seg: _Segment
    dead: np.ndarray | None = None  # bool [rows]
    dead_file: str | None = None  # where `dead` is saved; None = not saved yet

    @property
    def live(self) -> int:
        return len(self.seg) if self.dead is None else len(self.seg) - int(self.dead.sum())


def _merge(parts: Sequence[_Part]) -> _Part | None:
    """One segment holding the live rows of `parts`, in order."""
    chunk_ids: list[str] = []
    paper_ids: list[str] = []
    lengths, pterms, prows, ptfs = [], [], [], []
    offset = 0
    for part in parts:
        seg = part.seg
        live = np.ones(len(seg), dtype=bool) if part.dead is None else ~part.dead
        new_row = np.cumsum(live, dtype=np.int64) - 1 + offset
        keep = live[seg.rows]
        pterms.append(seg.posting_terms()[keep])
        prows.append(new_row[seg.rows[keep]].astype(np.int32))
        ptfs.append(np.asarray(seg.tfs)[keep])
        lengths.append(seg.lengths[live])
        rows_live = np.flatnonzero(live)
        chunk_ids += [seg.chunk_ids[r] for r in rows_live]
        paper_ids += [seg.paper_ids[r] for r in rows_live]
        offset += len(rows_live)
    if not chunk_ids:
        return None
    terms = np.concatenate(pterms)
    order = np.argsort(terms, kind="stable")  # rows of later parts come later: stays sorted
    return _Part(_assemble(_new_name("s"), chunk_ids, paper_ids, np.concatenate(lengths),
                           terms[order], np.concatenate(prows)[order],
                           np.concatenate(ptfs)[order]))


def _compact(parts: list[_Part]) -> list[_Part]:
    """Drop empty segments, rewrite mostly-deleted ones, merge small tails (log-structured)."""
    out: list[_Part] = []
    for part in parts:
        live = part.live
        if live == 0:
            continue
        if live * 2 < len(part.seg):
            merged = _merge([part])
            assert merged is not None
            part = merged
        out.append(part)
    while len(out) > 1 and out[-1].live * MERGE_FACTOR >= out[-2].live:
        merged = _merge(out[-2:])
        assert merged is not None
        out[-2:] = [merged]
    return out


# -- the index -----------------------------------------------------------------------------
class KeywordIndex:
    """A BM25 index over chunk texts, persisted in `directory` (None = memory only).

    A version never changes once built: `updated` and `synced` return a new object (and
    `rebuild` fills a fresh one), so a search running on the previous one finishes on it.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._vocab = _Vocab()
        self._parts: list[_Part] = []
        self._live = 0
        self._live_length = 0

    # -- shape -----------------------------------------------------------------------------
    def __len__(self) -> int:
        """Live (searchable) chunks."""
        return self._live

    @property
    def segments(self) -> int:
        return len(self._parts)

    def chunk_ids(self) -> Iterator[str]:
        """Ids of the live chunks."""
        for part in self._parts:
            ids = part.seg.chunk_ids
            if part.dead is None:
                yield from ids
            else:
                yield from (ids[row] for row in np.flatnonzero(~part.dead))

    def _set(self, parts: list[_Part]) -> None:
        self._parts = parts
        self._live = sum(p.live for p in parts)
        self._live_length = sum(
            int(p.seg.lengths.sum(dtype=np.int64)) if p.dead is None
            else int(p.seg.lengths[~p.dead].sum(dtype=np.int64)) for p in parts)

    def _derive(self) -> KeywordIndex:
        out = KeywordIndex(self.directory)
        out._vocab = self._vocab  # append-only: safe to share with the previous version
        return out

    # -- building --------------------------------------------------------------------------
    def rebuild(self, chunks: Iterable[tuple[str, str, str]]) -> None:
        """Index (chunk id, paper id, text) triples from scratch and persist atomically."""
        self._vocab = _Vocab()
        builder = _Builder(self._vocab)
        batch: list[tuple[str, str, str]] = []
        for triple in chunks:
            batch.append(triple)
            if len(batch) >= BUILD_BATCH:
                builder.add(batch)
                batch = []
        builder.add(batch)
        seg = builder.build()
        self._set([_Part(seg)] if seg else [])
        self._persist()

    def builder(self) -> _Builder:
        """Collects the chunks an ingest writes, for `updated` (tokenised as they come)."""
        return _Builder(self._vocab)

    def updated(self, added: _Builder | Iterable[tuple[str, str, str]] = (), *,
                remove_papers: Collection[str] = (),
                remove_chunks: Collection[str] = ()) -> KeywordIndex:
        """A new version, persisted: all chunks of `remove_papers` and the `remove_chunks`
        out, the added chunks in. Added chunks must not be in the index already, unless
        their paper is in `remove_papers` (an ingest rewrites papers whole)."""
        if not isinstance(added, _Builder):
            chunks = added
            added = self.builder()
            added.add(chunks)
        if added.vocab is not self._vocab:
            raise ValueError("the builder belongs to another index version lineage")
        parts: list[_Part] = []
        for part in self._parts:
            rows = part.seg.rows_of_papers(remove_papers) if remove_papers else []
            if remove_chunks:
                rows += part.seg.rows_of_chunks(remove_chunks)
            if rows:
                dead = np.zeros(len(part.seg), dtype=bool) if part.dead is None \
                    else part.dead.copy()
                dead[rows] = True
                part = _Part(part.seg, dead)
            parts.append(part)
        new = added.build()
        if new is not None:
            parts.append(_Part(new))
        out = self._derive()
        out._set(_compact(parts))
        out._persist()
        return out

    def synced(self, store: ChromaStore) -> KeywordIndex:
        """A version equal to what `store` holds, reading only the chunks that differ."""
        have = list(self.chunk_ids())
        have_set = set(have)
        held = set(store.chunk_ids())
        missing, extra = held - have_set, have_set - held
        if not missing and not extra and len(have) == len(have_set):
            return self
        if (len(have) != len(have_set)
                or len(missing) + len(extra) > SYNC_REBUILD_SHARE * max(len(held), 1)):
            out = KeywordIndex(self.directory)
            out.rebuild(store.iter_chunks())
            return out
        builder = self.builder()
        builder.add(store.get_chunks(sorted(missing)))
        return self.updated(builder, remove_chunks=extra)

    # -- search ----------------------------------------------------------------------------
    def _live_postings(self, tid: int) -> tuple[int, list[tuple[int, np.ndarray, np.ndarray]]]:
        """(live chunks containing term `tid`, [(part index, rows, term frequencies)])."""
        found_parts, df = [], 0
        for pi, part in enumerate(self._parts):
            found = part.seg.postings(tid)
            if found is None:
                continue
            rows, tfs = found
            if part.dead is not None:
                keep = ~part.dead[rows]
                rows, tfs = rows[keep], tfs[keep]
            if len(rows):
                found_parts.append((pi, rows, tfs))
                df += len(rows)
        return df, found_parts

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Live chunks containing each stemmed term (`query_terms`); 0: the collection never
        uses it. The vocabulary keeps terms of removed chunks, so membership is not enough."""
        ids = self._vocab.ids
        return {t: 0 if (tid := ids.get(t)) is None else self._live_postings(tid)[0]
                for t in dict.fromkeys(terms)}

    def search(self, query: str, n: int) -> list[KeywordHit]:
        """Top-n chunks by BM25; chunks scoring 0 (no shared term) are left out."""
        if not self._live or n <= 0:
            return []
        ids = self._vocab.ids
        tokens = [tid for t in query_terms(query) if (tid := ids.get(t)) is not None]
        if not tokens:
            return []
        n_docs, avg_len = self._live, self._live_length / self._live
        postings = {tid: self._live_postings(tid) for tid in dict.fromkeys(tokens)}
        scores: dict[int, np.ndarray] = {}
        # Same arithmetic, dtypes and order of additions as bm25s (lucene): float64 per
        # posting, stored as float32, summed in float32 one query token after the other.
        for tid in tokens:  # a repeated query term counts again, as in bm25s
            df, found_parts = postings[tid]
            if not df:
                continue
            idf = np.float64(np.float32(math.log(1 + (n_docs - df + 0.5) / (df + 0.5))))
            for pi, rows, tfs in found_parts:
                tf = tfs.astype(np.float64)
                dl = self._parts[pi].seg.lengths[rows]
                tfc = tf / (K1 * ((1 - B) + B * dl / avg_len) + tf)
                acc = scores.get(pi)
                if acc is None:
                    acc = scores[pi] = np.zeros(len(self._parts[pi].seg), dtype=np.float32)
                acc[rows] += (idf * tfc).astype(np.float32)
        if not scores:
            return []
        found_scores, found_part, found_row = [], [], []
        for pi in sorted(scores):
            rows = np.flatnonzero(scores[pi] > 0)
            found_scores.append(scores[pi][rows])
            found_part.append(np.full(len(rows), pi, dtype=np.int32))
            found_row.append(rows)
        all_scores = np.concatenate(found_scores)
        all_parts, all_rows = np.concatenate(found_part), np.concatenate(found_row)
        top = (np.argpartition(-all_scores, n - 1)[:n] if len(all_scores) > n
               else np.arange(len(all_scores)))
        top = top[np.lexsort((top, -all_scores[top]))]  # score desc, then index order
        out = []
        for i in top:
            seg, row = self._parts[int(all_parts[i])].seg, int(all_rows[i])
            out.append(KeywordHit(seg.chunk_ids[row], seg.paper_ids[row], float(all_scores[i])))
        return out

    # -- persistence -----------------------------------------------------------------------
    def load(self) -> bool:
        """Load from disk; False when there is nothing (or nothing readable) there."""
        d = self.directory
        if d is None or not (d / MANIFEST).is_file():
            return False
        try:
            manifest = json.loads((d / MANIFEST).read_text())
            if manifest.get("format") != FORMAT:
                return False  # e.g. the single bm25s index of earlier versions: rebuild
            terms: list[str] = []
            for name in manifest["vocab"]:
                terms += json.loads((d / name).read_text())
            vocab = _Vocab(terms)
            vocab.files = list(manifest["vocab"])
            parts = []
            for entry in manifest["segments"]:
                seg = _load_segment(d / entry["name"], entry["name"])
                dead = np.load(d / entry["dead"]) if entry["dead"] else None
                if dead is not None and (dead.dtype != bool or len(dead) != len(seg)):
                    raise ValueError(f"deletion mask of {seg.name} does not fit it")
                parts.append(_Part(seg, dead, entry["dead"]))
        except (OSError, ValueError, KeyError, TypeError):
            return False
        self._vocab = vocab
        self._set(parts)
        return True

    def _persist(self) -> None:
        d = self.directory
        if d is None:
            return
        d.mkdir(parents=True, exist_ok=True)
        vocab = self._vocab
        with vocab._lock:
            if vocab.saved < len(vocab.terms) or not vocab.files:
                if len(vocab.files) >= 32:  # after many small ingests: fold into one file
                    vocab.files, vocab.saved = [], 0
                name = _new_name("v") + ".json"
                _write_atomic(d / name, json.dumps(vocab.terms[vocab.saved:]).encode())
                vocab.files = [*vocab.files, name]
                vocab.saved = len(vocab.terms)
            vocab_files = list(vocab.files)
        entries, parts = [], []
        for part in self._parts:
            if not (d / part.seg.name).is_dir():
                _save_segment(d / part.seg.name, part.seg)
            if part.dead is not None and part.dead_file is None:
                name = _new_name("d") + ".npy"
                tmp = d / f"{name}.tmp{os.getpid()}.npy"
                np.save(tmp, part.dead)
                os.replace(tmp, d / name)
                part = _Part(part.seg, part.dead, name)
            parts.append(part)
            entries.append({"name": part.seg.name, "rows": len(part.seg),
                            "dead": part.dead_file})
        self._parts = parts
        manifest = {"format": FORMAT, "vocab": vocab_files, "segments": entries,
                    "live_chunks": self._live}
        _write_atomic(d / MANIFEST, json.dumps(manifest).encode())
        keep = {MANIFEST, *vocab_files, *(e["name"] for e in entries),
                *(e["dead"] for e in entries if e["dead"])}
        for entry in d.iterdir():  # files of earlier versions (and of the bm25s format)
            if entry.name not in keep and ".tmp" not in entry.name:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


_ARRAYS = ("lengths", "terms", "indptr", "rows", "tfs")


def _save_segment(path: Path, seg: _Segment) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in _ARRAYS:
        np.save(tmp / f"{name}.npy", getattr(seg, name))
    (tmp / "ids.json").write_text(json.dumps([seg.chunk_ids, seg.paper_ids]))
    os.replace(tmp, path)


def _load_segment(path: Path, name: str) -> _Segment:
    arrays: dict[str, Any] = {}
    for array in _ARRAYS:
        # Postings are the bulk: map them, pages load as queries touch them.
        if array in ("rows", "tfs"):
            arrays[array] = np.load(path / f"{array}.npy", mmap_mode="r")
        else:
            arrays[array] = np.load(path / f"{array}.npy")
    chunk_ids, paper_ids = json.loads((path / "ids.json").read_text())
    if not (len(chunk_ids) == len(paper_ids) == len(arrays["lengths"])
            and len(arrays["indptr"]) == len(arrays["terms"]) + 1
            and len(arrays["rows"]) == len(arrays["tfs"]) == int(arrays["indptr"][-1])):
        raise ValueError(f"segment {name} is inconsistent")
    return _Segment(name, chunk_ids, paper_ids, **arrays)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
