"""Hybrid retrieval: dense (Chroma) + BM25 (tantivy), fused, chunk hits aggregated to papers."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from rag.analysis import query_terms
from rag.chunking import chunk_body
from rag.fusion import rrf_fusion, zscore_fusion
from rag.models import SearchHit, SearchResponse

if TYPE_CHECKING:
    from rag.embedders import Embedder
    from rag.keyword import KeywordSearch
    from rag.settings import Settings
    from rag.store import ChromaStore


class SearchParts(Protocol):
    """What a search reads; rag.library.Library provides it (the embedder loads on use)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> ChromaStore: ...

    @property
    def embedder(self) -> Embedder: ...


SNIPPET_CHARS = 300


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def hybrid_search(parts: SearchParts, keyword: KeywordSearch, query: str, k: int,
                  mode: str) -> SearchResponse:
    """Rank papers for `query` with the configured (or given) fusion mode."""
    cfg = parts.settings.retrieval
    fusion = cfg.fusion if mode == "default" else mode
    n = max(cfg.candidates, 3 * k)
    timings: dict[str, float] = {}

    dense: dict[str, float] = {}
    best_dense_chunk: dict[str, str] = {}
    texts: dict[str, str] = {}
    titles: dict[str, str] = {}
    top_cosine = None
    if fusion != "bm25":
        t0 = time.perf_counter()
        vector = parts.embedder.embed_query(query)
        timings["embed_ms"] = _ms(t0)
        t0 = time.perf_counter()
        for hit in parts.store.query(vector, n):
            texts[hit.chunk_id] = hit.text
            titles[hit.paper_id] = hit.title
            if hit.similarity > dense.get(hit.paper_id, -2.0):
                dense[hit.paper_id] = hit.similarity
                best_dense_chunk[hit.paper_id] = hit.chunk_id
        top_cosine = max(dense.values(), default=None)
        timings["dense_ms"] = _ms(t0)

    bm25: dict[str, float] = {}
    best_bm25_chunk: dict[str, str] = {}
    if fusion != "dense":
        t0 = time.perf_counter()
        for kh in keyword.search(query, n):
            if kh.score > bm25.get(kh.paper_id, 0.0):
                bm25[kh.paper_id] = kh.score
                best_bm25_chunk[kh.paper_id] = kh.chunk_id
        timings["bm25_ms"] = _ms(t0)

    if fusion == "dense":
        fused = dense
    elif fusion == "bm25":
        fused = bm25
    elif fusion == "rrf":
        fused = rrf_fusion(dense, bm25, cfg.rrf_k)
    else:
        fused = zscore_fusion(dense, bm25, cfg.dense_weight)

    ranked = sorted(fused, key=lambda pid: (-fused[pid], pid))[:k]
    t0 = time.perf_counter()
    # By chunk id: a metadata filter here would scan the collection on every query.
    hints = {pid: cid for pid in ranked
             if (cid := best_dense_chunk.get(pid) or best_bm25_chunk.get(pid))}
    papers = parts.store.get_papers(ranked, chunk_hints=hints)
    hits: list[SearchHit] = []
    for pid in ranked:
        paper = papers.get(pid)
        if paper is None:  # removed by a concurrent ingest between the two reads
            continue
        # Snippet: the chunk that matched best in the component that ranked it higher.
        cid = best_dense_chunk.get(pid) if dense.get(pid, -1) >= 0 else None
        if fusion == "bm25" or (cid is None and pid in best_bm25_chunk):
            cid = best_bm25_chunk.get(pid)
        text = chunk_body(texts[cid]) if cid in texts else paper.abstract
        hits.append(SearchHit(
            rank=len(hits) + 1, paper_id=pid, title=paper.title or titles.get(pid, ""),
            score=float(fused[pid]), snippet=_snippet(text), abstract=paper.abstract,
            year=paper.year, authors=list(paper.authors), dense_score=dense.get(pid),
            bm25_score=bm25.get(pid)))
    timings["fetch_ms"] = _ms(t0)
    response = SearchResponse(query=query, results=hits, timings=timings)
    response.top_cosine = top_cosine
    response.top_bm25 = max(bm25.values(), default=0.0)
    response.term_df = keyword.document_frequencies(query_terms(query))
    response.chunk_count = len(keyword)
    return response


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    cut = text.rfind(" ", 0, SNIPPET_CHARS)
    return text[: cut if cut > 0 else SNIPPET_CHARS] + "…"
