"""The domain records shared by every layer, as pydantic models defined once.

`model_dump(mode="json")` of each is its wire shape: what `--json` prints, what the HTTP API
returns and what the TUI's client reads back with `model_validate`. Fields that only the
core uses (raw scores, refusal signals) are `exclude=True`, so they never reach a client.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def rounded(digits: int) -> PlainSerializer:
    """Serialise a float rounded to `digits` decimals (the printed precision of a field)."""
    return PlainSerializer(lambda value: round(value, digits), return_type=float)


Score = Annotated[float, rounded(6)]
Timings = dict[str, Annotated[float, rounded(2)]]  # milliseconds by step


class Record(BaseModel):
    """Base of the wire models: OpenAPI lists a defaulted field as always present (it is)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Paper(Record):
    """One paper: an id, a title and an abstract, plus optional bibliographic fields.

    Its dump (`id`, ..., lists for authors and categories) is the JSON `paperchat ingest`
    reads and the record stored with the paper's first chunk.
    """

    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)

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


class PaperSummary(Record):
    """A paper in a listing (`paperchat papers --json`, GET /v1/papers)."""

    paper_id: str
    title: str
    year: int | None
    authors: list[str]

    @classmethod
    def of(cls, paper: Paper) -> PaperSummary:
        return cls(paper_id=paper.id, **paper.model_dump(include={"title", "year", "authors"}))


class PaperList(Record):
    """The papers of a collection (`paperchat papers --json`)."""

    collection: str
    count: int = Field(description="Papers in the collection (all pages).")
    papers: list[PaperSummary]


class PaperDetail(Record):
    """One paper with its abstract and bibliographic fields (GET /v1/papers/{paper_id})."""

    paper_id: str
    title: str
    abstract: str
    authors: list[str]
    year: int | None
    url: str | None
    doi: str | None
    categories: list[str]

    @classmethod
    def of(cls, paper: Paper) -> PaperDetail:
        return cls(paper_id=paper.id, **paper.model_dump(exclude={"id"}))

    def paper(self) -> Paper:
        return Paper(id=self.paper_id, **self.model_dump(exclude={"paper_id"}))


class Chunk(BaseModel):
    """A token-bounded piece of one paper's abstract; `text` starts with the title."""

    model_config = ConfigDict(frozen=True)

    id: str
    paper_id: str
    index: int
    text: str


class SearchHit(Record):
    """One paper in a ranked result list."""

    rank: int
    paper_id: str
    title: str
    score: Score
    snippet: str
    relevance: Annotated[float, rounded(4)] | None = Field(
        None, exclude_if=lambda value: value is None,
        description="Calibrated probability that the paper is relevant, when a relevance "
        "stage reranked the results; absent otherwise.")
    # Core only (the answer layer reads them; `search --json` does not print them):
    abstract: str = Field("", exclude=True)
    year: int | None = Field(None, exclude=True)
    authors: list[str] = Field(default_factory=list, exclude=True)
    dense_score: float | None = Field(None, exclude=True)
    bm25_score: float | None = Field(None, exclude=True)


class SearchResponse(Record):
    """Ranked papers for one query plus timings in milliseconds (`paperchat search --json`)."""

    query: str
    results: list[SearchHit]
    timings: Timings = Field(default_factory=dict)
    # Refusal signals, for the answer layer only:
    top_cosine: float | None = Field(None, exclude=True)  # best dense cosine among candidates
    top_bm25: float = Field(0.0, exclude=True)  # best BM25 score among candidates
    # Live chunks containing each query term (BM25 stems); 0 = a term the collection never
    # uses. None when the producer has no keyword index.
    term_df: dict[str, int] | None = Field(None, exclude=True)
    chunk_count: int | None = Field(None, exclude=True)  # live chunks the index holds


class IngestReport(Record):
    """Counts after an ingest (`paperchat ingest --json`, POST /v1/ingest)."""

    collection: str
    papers: int = Field(0, description="Collection size afterwards.")
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    backfilled: int = Field(0, description="Unchanged papers whose sentence vectors (stored "
                            "for the relevance stage) were missing and have been added; "
                            "their chunks were not rewritten.")
    chunks: int = 0
    seconds: Annotated[float, rounded(3)] = 0.0
    duplicates: int = Field(0, description="Duplicate records merged while parsing.")
    warnings: list[str] = Field(default_factory=list)
