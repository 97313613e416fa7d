"""Tell a collection file's format from its content; the file extension only breaks ties."""

from __future__ import annotations

import csv
import json
import re
from pathlib import PurePath

from ingest.parsers.arxiv import looks_like_arxiv
from ingest.parsers.trending import content_lines
from rag.errors import ParseError

EXTENSIONS = {
    ".txt": "trending",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".bib": "bibtex",
    ".bibtex": "bibtex",
}
_BIB_ENTRY = re.compile(r"^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]", re.MULTILINE)
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _json_candidates(text: str, first: str) -> list[str]:
    try:
        obj = json.loads(first)
    except (ValueError, RecursionError):
        try:
            whole = json.loads(text)
        except (ValueError, RecursionError):  # broken: the extension picks who reports it
            return ["jsonl", "json"]
        return ["json"] if isinstance(whole, dict | list) else []
    if isinstance(obj, dict) and "papers" in obj and first.strip() == text.strip():
        return ["json"]
    if isinstance(obj, dict) and "_id" in obj:
        return ["beir"]
    if isinstance(obj, dict) and looks_like_arxiv(obj):
        return ["arxiv"]
    return ["jsonl"]


def _is_csv_header(line: str) -> bool:
    try:
        cells = [cell.strip() for cell in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return False
    named = [cell for cell in cells if cell]
    return (
        len(cells) >= 2
        and "title" in (cell.lower() for cell in named)
        and all(_COLUMN.fullmatch(cell) for cell in named)
    )


def candidates(text: str) -> list[str]:
    """Formats the content is consistent with, most likely first."""
    first = next((line for line in text.split("\n") if line.strip()), "")
    if first.lstrip().startswith("["):
        return ["json"]
    if first.lstrip().startswith("{"):
        return _json_candidates(text, first)
    found = (["csv"] if _is_csv_header(first) else []) + (
        ["bibtex"] if _BIB_ENTRY.search(text) else []
    )
    if found:
        return found
    return ["trending"] if len(content_lines(text)) >= 2 else []


def detect_format(text: str, filename: str = "") -> str:
    """The format of `text`, by content first; `filename`'s extension only breaks ties."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ParseError("the file is empty", path=filename or None)
    found = candidates(text)
    by_extension = EXTENSIONS.get(PurePath(filename).suffix.lower())
    # Plain text is only weak evidence for the page dump; a known extension outweighs it.
    if by_extension in found or (found == ["trending"] and by_extension):
        return str(by_extension)
    if found:
        return found[0]
    raise ParseError(
        "cannot tell the format from the content; name one of: trending, "
        "jsonl, json, beir, arxiv, csv, bibtex",
        path=filename or None,
    )
