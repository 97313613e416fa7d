"""Plain data records shared by every layer."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Paper:
    """One paper: an id, a title and an abstract, plus optional bibliographic fields."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    url: str | None = None
    doi: str | None = None
    categories: tuple[str, ...] = ()

    def content_hash(self) -> str:
        """Hash of everything that is indexed or shown; a change means re-embedding."""
        payload = json.dumps(
            [self.title, self.abstract, list(self.authors), self.year, self.url, self.doi,
             list(self.categories)],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["authors"] = list(self.authors)
        d["categories"] = list(self.categories)
        return d


@dataclass(frozen=True)
class Chunk:
    """A token-bounded piece of one paper's abstract; `text` starts with the title."""

    id: str
    paper_id: str
    index: int
    text: str


@dataclass
class SearchHit:
    """One paper in a ranked result list."""

    rank: int
    paper_id: str
    title: str
    score: float
    snippet: str
    abstract: str = ""
    dense_score: float | None = None
    bm25_score: float | None = None

    def to_json(self) -> dict[str, object]:
        """The `paperchat search --json` result shape."""
        return {"rank": self.rank, "paper_id": self.paper_id, "title": self.title,
                "score": round(self.score, 6), "snippet": self.snippet}


@dataclass
class SearchResponse:
    """Ranked papers for one query plus timings in milliseconds."""

    query: str
    results: list[SearchHit]
    timings: dict[str, float] = field(default_factory=dict)
    top_cosine: float | None = None  # best dense cosine among candidates (refusal signal)
    top_bm25: float = 0.0  # best BM25 score among candidates (refusal signal)
    # Live chunks containing each query term (BM25 stems); 0 = a term the collection never
    # uses (refusal signal). None when the producer has no keyword index.
    term_df: dict[str, int] | None = None

    def to_json(self) -> dict[str, object]:
        return {"query": self.query, "results": [h.to_json() for h in self.results],
                "timings": {k: round(v, 2) for k, v in self.timings.items()}}


@dataclass
class IngestReport:
    """Counts after an ingest; `papers` is the collection size afterwards."""

    collection: str
    papers: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    seconds: float = 0.0
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"collection": self.collection, "papers": self.papers, "added": self.added,
                "updated": self.updated, "unchanged": self.unchanged, "removed": self.removed,
                "chunks": self.chunks, "seconds": round(self.seconds, 3)}
