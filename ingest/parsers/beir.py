"""BEIR corpus.jsonl: `_id`, `title`, `text` a line; `_id` is kept as the paper id."""

from __future__ import annotations

from ingest.parsers.fields import Parsed, paper_from_fields
from ingest.parsers.jsonl import parse_lines
from rag.errors import ParseError
from rag.models import Paper


def _paper(obj: dict[str, object], source: str, line: int) -> Paper:
    if obj.get("_id") in (None, ""):
        raise ParseError("missing '_id'", path=source, line=line)
    return paper_from_fields(obj, source=source, line=line, id_key="_id")


def parse_beir(text: str, source: str) -> Parsed:
    """Parse a BEIR corpus file."""
    return parse_lines(text, source, _paper)
