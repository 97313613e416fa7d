"""BEIR-format datasets: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.

The corpus is read by the ingest parser's BEIR reader (`_id` kept as the paper id, an
untitled passage titled with its first words) but is not merged by title: in BEIR, distinct
documents may share a title (passages of one Wikipedia article), and every `_id` must stay
addressable by the qrels.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import InputError, ParseError

if TYPE_CHECKING:
    from rag.models import Paper
    from rag.settings import Settings

@dataclass
class BeirDataset:
    """A loaded dataset; `queries` holds only the queries that have judgements."""

    name: str
    corpus: list[Paper]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    warnings: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """Hash of the indexed corpus content (ids and paper content hashes)."""
        h = hashlib.sha256()
        for paper in sorted(self.corpus, key=lambda p: p.id):
            h.update(f"{paper.id}\0{paper.content_hash()}\n".encode())
        return h.hexdigest()


def index_collection_name(dataset: BeirDataset, settings: Settings) -> str:
    """`eval-<hash[:12]>`: same corpus, embedder and chunking -> same collection (no re-embed).

    Chunk settings are part of the key because the incremental ingest only compares paper
    content: a collection chunked differently would otherwise be reused silently.
    """
    from rag.embedders import embedder_identity

    model, dim = embedder_identity(settings)
    key = (f"{dataset.fingerprint()}|{model}|{dim}|{settings.chunk.chunk_size}|"
           f"{settings.chunk.chunk_overlap}")
    return "eval-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 text file; a missing file is an InputError naming it."""
    from ingest.parsers import read_text

    if not path.is_file():
        raise InputError(f"{path}: not found (a BEIR dataset has corpus.jsonl, queries.jsonl "
                         "and qrels/<split>.tsv)")
    return read_text(path).replace("\r\n", "\n").split("\n")


def _objects(path: Path) -> list[tuple[int, dict[str, object]]]:
    """(line, object) of each non-blank line of a JSONL file whose objects have an `_id`."""
    from ingest.parsers.jsonl import loads

    out = []
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        obj = loads(line, str(path), n)
        if not isinstance(obj, dict):
            raise ParseError(f"expected a JSON object, not {type(obj).__name__}",
                             path=str(path), line=n)
        if obj.get("_id") in (None, ""):
            raise ParseError("missing '_id'", path=str(path), line=n)
        out.append((n, obj))
    return out


def load_corpus(path: Path) -> list[Paper]:
    """Papers from corpus.jsonl; duplicate `_id`s are an error."""
    from ingest.parsers.beir import parse_beir

    papers: list[Paper] = []
    seen: dict[str, int | None] = {}
    for record in parse_beir("\n".join(read_lines(path)), str(path)).records:
        paper, n = record.paper, record.line
        if paper.id in seen:
            raise ParseError(f"duplicate _id {paper.id!r} (first on line {seen[paper.id]})",
                             path=str(path), line=n)
        seen[paper.id] = n
        papers.append(paper)
    return papers


def load_queries(path: Path) -> dict[str, str]:
    """{query id: text} from queries.jsonl."""
    queries: dict[str, str] = {}
    for n, obj in _objects(path):
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ParseError("expected a non-empty string 'text'", path=str(path), line=n)
        queries[str(obj["_id"])] = text.strip()
    return queries


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """{query id: {doc id: grade}} from a `query-id corpus-id score` TSV (header optional)."""
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        if n == 1 and cols[0].strip().lower() in ("query-id", "query_id", "qid"):
            continue
        if len(cols) != 3:
            raise ParseError(f"expected 3 tab-separated columns (query-id, corpus-id, score), "
                             f"got {len(cols)}", path=str(path), line=n)
        try:
            score = float(cols[2])
        except ValueError as e:
            raise ParseError(f"score {cols[2]!r} is not a number", path=str(path),
                             line=n) from e
        if not math.isfinite(score):  # inf, nan, 1e400: int() would raise OverflowError
            raise ParseError(f"score {cols[2]!r} is not a finite number", path=str(path),
                             line=n)
        grade = int(score)
        qrels.setdefault(cols[0].strip(), {})[cols[1].strip()] = grade
    return qrels


def load_beir(directory: Path, split: str = "test") -> BeirDataset:
    """Read and cross-check a BEIR dataset folder."""
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    corpus = load_corpus(directory / "corpus.jsonl")
    queries = load_queries(directory / "queries.jsonl")
    qrels = load_qrels(directory / "qrels" / f"{split}.tsv")
    warnings = []
    ids = {p.id for p in corpus}
    unknown_q = sorted(q for q in qrels if q not in queries)
    if unknown_q:
        warnings.append(f"{len(unknown_q)} judged queries are not in queries.jsonl "
                        f"(skipped): {', '.join(unknown_q[:5])}")
    unknown_d = sorted({d for j in qrels.values() for d in j if d not in ids})
    if unknown_d:
        warnings.append(f"{len(unknown_d)} judged documents are not in corpus.jsonl "
                        f"(they count as never retrieved): {', '.join(unknown_d[:5])}")
    judged = {q: j for q, j in qrels.items()
              if q in queries and any(g >= 1 for g in j.values())}
    if not judged:
        raise InputError(f"{directory}: no query in qrels/{split}.tsv has a relevant document")
    return BeirDataset(name=directory.resolve().name, corpus=corpus,
                       queries={q: queries[q] for q in judged}, qrels=judged,
                       warnings=warnings)

