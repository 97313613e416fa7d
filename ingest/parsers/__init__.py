"""Collection files in, deduplicated papers out: one small module per format.

Every failure on any input is a `ParseError` naming the file and, where known, the line;
a parse returns a complete `ParseResult` or raises, never half a collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.formats import FORMATS, Format
from ingest.parsers.arxiv import parse_arxiv
from ingest.parsers.beir import parse_beir
from ingest.parsers.bibtex import parse_bibtex
from ingest.parsers.csv_ import parse_csv
from ingest.parsers.dedup import merge_duplicates
from ingest.parsers.detect import detect_format
from ingest.parsers.fields import Parsed, Record
from ingest.parsers.jsonl import parse_json, parse_lines
from ingest.parsers.trending import parse_trending
from rag.errors import ParseError
from rag.models import Paper

__all__ = ["FORMATS", "Format", "ParseResult", "detect_format", "parse_file", "parse_files",
           "parse_text"]

_PARSERS: dict[str, Callable[[str, str], Parsed]] = {
    "trending": parse_trending,
    "jsonl": parse_lines,
    "json": parse_json,
    "beir": parse_beir,
    "arxiv": parse_arxiv,
    "csv": parse_csv,
    "bibtex": parse_bibtex,
}


@dataclass
class ParseResult:
    """Papers from one or more files, deduplicated and in source order."""

    papers: list[Paper]
    format: str  # with several files in different formats: "jsonl+bibtex"
    duplicates: int
    warnings: list[str] = field(default_factory=list)


def _records(text: str, format: str | None, source: str) -> tuple[Parsed, str]:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if format is None:
        format = detect_format(text, source)
    elif format not in _PARSERS:
        raise ParseError(
            f"unknown format {format!r}; expected one of: {', '.join(FORMATS)}", path=source
        )
    return _PARSERS[format](text, source), format


def _result(parsed: list[Parsed], formats: list[str]) -> ParseResult:
    records: list[Record] = [r for p in parsed for r in p.records]
    papers, duplicates, merged = merge_duplicates(records)
    warnings = [w for p in parsed for w in p.warnings] + merged
    return ParseResult(papers, "+".join(dict.fromkeys(formats)), duplicates, warnings)


def parse_text(text: str, *, format: str | None = None, source: str = "<input>") -> ParseResult:
    """Parse one collection given as text (an upload, say); `source` names it in messages."""
    parsed, used = _records(text, format, source)
    return _result([parsed], [used])


def read_text(path: Path) -> str:
    """A file's text as UTF-8 (a BOM is dropped); unreadable or undecodable -> ParseError."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ParseError(f"cannot read the file: {e.strerror or e}", path=str(path)) from e
    return decode_utf8(data, str(path))


def decode_utf8(data: bytes, source: str) -> str:
    """Bytes (a file, an upload) as UTF-8 text, a BOM dropped; else a ParseError naming the
    byte, its offset and its line in `source`."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at = e.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)  # utf-8-sig skips the BOM
        raise ParseError(
            f"not UTF-8 text (byte 0x{data[at]:02x} at offset {at})",
            path=source,
            line=data.count(b"\n", 0, at) + 1,
        ) from e


def parse_file(path: str | Path, *, format: str | None = None) -> ParseResult:
    """Parse one collection file."""
    return parse_files([path], format=format)


def parse_files(paths: Iterable[str | Path], *, format: str | None = None) -> ParseResult:
    """Parse several files into one collection, merging duplicates across them too."""
    parsed, formats = [], []
    for path in map(Path, paths):
        one, used = _records(read_text(path), format, str(path))
        parsed.append(one)
        formats.append(used)
    if not parsed:
        raise ParseError("no input files given")
    return _result(parsed, formats)
