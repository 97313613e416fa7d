"""CSV with a header row naming the columns (case-insensitive), as in the jsonl format."""

from __future__ import annotations

import csv
import io

from ingest.parsers.fields import ABSTRACT_KEYS, Parsed, Record, paper_from_fields
from rag.errors import ParseError


def parse_csv(text: str, source: str) -> Parsed:
    """Parse rows under a header with a `title` and an `abstract`/`text`/`summary` column."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line, records, end = 0, [], 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header, header_line = [cell.strip().lower() for cell in row], start
                _check_header(header, source, start)
                continue
            if len(row) > len(header):
                raise ParseError(
                    f"row has {len(row)} fields but the header has {len(header)}",
                    path=source,
                    line=start,
                )
            fields = {name: cell for name, cell in zip(header, row, strict=False) if name}
            paper = paper_from_fields(fields, source=source, line=start)
            records.append(Record(paper, source, start))
    except csv.Error as e:
        raise ParseError(f"invalid CSV: {e}", path=source, line=reader.line_num) from e
    if not records:
        raise ParseError("no papers found", path=source, line=header_line or None)
    return Parsed(records)


def _check_header(header: list[str], source: str, line: int) -> None:
    named = [name for name in header if name]
    duplicates = sorted({name for name in named if named.count(name) > 1})
    if duplicates:
        raise ParseError(
            f"duplicate column {duplicates[0]!r} in the header", path=source, line=line
        )
    if "title" not in named or not set(ABSTRACT_KEYS) & set(named):
        raise ParseError(
            "the header needs a 'title' column and an 'abstract', 'text' or 'summary' column",
            path=source,
            line=line,
        )
