"""The arXiv metadata snapshot (Kaggle `arxiv-metadata-oai-snapshot.json`): one paper a line."""

from __future__ import annotations

import re

from ingest.latex import latex_to_text
from ingest.parsers.fields import Parsed, paper_from_fields
from ingest.parsers.jsonl import parse_lines
from rag.errors import ParseError
from rag.models import Paper

ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?")
_DATE = re.compile(r"\s*(\d{4})-\d{2}-\d{2}")


def looks_like_arxiv(obj: dict[str, object]) -> bool:
    """True for a snapshot record: an abstract plus arXiv-only keys or an arXiv-style id."""
    if "abstract" not in obj:
        return False
    if {"update_date", "versions", "authors_parsed", "submitter"} & obj.keys():
        return True
    arxiv_id, categories = obj.get("id"), obj.get("categories")
    return (
        isinstance(arxiv_id, str)
        and isinstance(categories, str)
        and ARXIV_ID.fullmatch(arxiv_id) is not None
    )


def _paper(obj: dict[str, object], source: str, line: int) -> Paper:
    fields = {k: v for k, v in obj.items() if k not in ("year", "url")}
    if isinstance(obj.get("authors"), str):  # "C. Bal\'azs": names carry LaTeX accents too
        fields["authors"] = latex_to_text(str(obj["authors"]))
    date = obj.get("update_date")
    if date is not None:
        match = _DATE.match(date) if isinstance(date, str) else None
        if match is None:
            raise ParseError(
                f"'update_date' must look like YYYY-MM-DD, not {date!r:.40}", path=source, line=line
            )
        fields["year"] = match.group(1)
    if isinstance(obj.get("id"), str) and ARXIV_ID.fullmatch(str(obj["id"]).strip()):
        fields["url"] = f"https://arxiv.org/abs/{str(obj['id']).strip()}"
    return paper_from_fields(fields, source=source, line=line, latex=True)


def parse_arxiv(text: str, source: str) -> Parsed:
    """Parse arXiv snapshot lines; LaTeX leftovers and line breaks in the text are cleaned."""
    return parse_lines(text, source, _paper)
