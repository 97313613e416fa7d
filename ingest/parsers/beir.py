"""BEIR corpus.jsonl: `_id`, `title`, `text` a line; `_id` is kept as the paper id.

The one reader of BEIR documents: `paperchat ingest --format beir` and the retrieval evals
(`evals.beir.load_corpus`) both go through `beir_paper`.
"""

from __future__ import annotations

from ingest.parsers.fields import Parsed, paper_from_fields
from ingest.parsers.jsonl import parse_lines
from rag.errors import ParseError
from rag.models import Paper

TITLE_WORDS = 12  # an untitled BEIR document is titled with its first words


def beir_paper(obj: dict[str, object], source: str, line: int) -> Paper:
    """A paper from one corpus row; an untitled document (a passage, say) gets the first
    TITLE_WORDS words of its text as its title."""
    if obj.get("_id") in (None, ""):
        raise ParseError("missing '_id'", path=source, line=line)
    text = obj.get("text")
    if not obj.get("title") and isinstance(text, str) and text.strip():
        obj = {**obj, "title": " ".join(text.split()[:TITLE_WORDS])}
    return paper_from_fields(obj, source=source, line=line, id_key="_id")


def parse_beir(text: str, source: str) -> Parsed:
    """Parse a BEIR corpus file."""
    return parse_lines(text, source, beir_paper)
