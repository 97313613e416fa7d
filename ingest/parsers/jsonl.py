"""JSON Lines (one paper object a line) and JSON (a list of paper objects)."""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable

from ingest.parsers.fields import Parsed, Record, paper_from_fields
from rag.errors import ParseError
from rag.models import Paper

ToPaper = Callable[[dict[str, object], str, int], Paper]
_WS = re.compile(r"[ \t\n\r]*")


def generic_paper(obj: dict[str, object], source: str, line: int) -> Paper:
    """A paper from a jsonl/json/csv-style object."""
    return paper_from_fields(obj, source=source, line=line)


def loads(text: str, source: str, line: int | None) -> object:
    """json.loads, with every failure (bad syntax, huge numbers, deep nesting) a ParseError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at = e.lineno + (line - 1 if line else 0)
        raise ParseError(f"invalid JSON: {e.msg} (column {e.colno})", path=source, line=at) from e
    except (ValueError, RecursionError) as e:  # int digit limit, nesting too deep
        raise ParseError(f"invalid JSON: {e}", path=source, line=line) from e


def _as_object(value: object, source: str, line: int, label: str = "") -> dict[str, object]:
    if not isinstance(value, dict):
        raise ParseError(
            f"{label}expected a JSON object, not {type(value).__name__}", path=source, line=line
        )
    return value


def parse_lines(text: str, source: str, to_paper: ToPaper = generic_paper) -> Parsed:
    """Parse one JSON object per non-blank line."""
    records = []
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            obj = _as_object(loads(line, source, number), source, number)
            records.append(Record(to_paper(obj, source, number), source, number))
    if not records:
        raise ParseError("no papers found", path=source)
    return Parsed(records)


def _skip(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _array_items(text: str, pos: int) -> list[int]:
    """Offsets of the items of the (valid) JSON array that opens at `pos`."""
    decoder, offsets = json.JSONDecoder(), []
    pos = _skip(text, pos + 1)
    while text[pos] != "]":
        offsets.append(pos)
        pos = _skip(text, decoder.raw_decode(text, pos)[1])
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    return offsets


def _papers_value(text: str, pos: int) -> int:
    """Offset of the value of the last "papers" key of the (valid) JSON object at `pos`."""
    decoder, found = json.JSONDecoder(), pos
    pos = _skip(text, pos + 1)
    while text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, _skip(text, pos) + 1)  # the ':'
        found = pos if key == "papers" else found
        pos = _skip(text, decoder.raw_decode(text, pos)[1])
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    return found


def parse_json(text: str, source: str) -> Parsed:
    """Parse a top-level list of paper objects, or {"papers": [...]}."""
    data = loads(text, source, None)
    try:
        return _json_records(data, text, source)
    except RecursionError as e:  # raw_decode runs a frame deeper than json.loads did
        raise ParseError("invalid JSON: nested too deeply", path=source) from e


def _json_records(data: object, text: str, source: str) -> Parsed:
    start = _skip(text, 0)
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data, start = data["papers"], _papers_value(text, start)
    if not isinstance(data, list):
        raise ParseError(
            'expected a list of papers or an object with a "papers" list',
            path=source,
            line=text.count("\n", 0, start) + 1,
        )
    newlines = [m.start() for m in re.finditer("\n", text)]
    records = []
    for index, (item, offset) in enumerate(zip(data, _array_items(text, start), strict=True)):
        line = bisect.bisect_left(newlines, offset) + 1
        obj = _as_object(item, source, line, f"item {index}: ")
        records.append(Record(generic_paper(obj, source, line), source, line))
    if not records:
        raise ParseError("no papers found", path=source)
    return Parsed(records)
