"""Merge records that are the same paper: same id or same normalised title."""

from __future__ import annotations

from ingest.parsers.fields import Record, display_name
from rag.ids import normalise_title
from rag.models import Paper

_OPTIONAL = ("authors", "year", "url", "doi", "categories")
_SHOWN = 5


def _fill(kept: Paper, later: Paper) -> Paper:
    """`kept` with its empty optional fields taken from `later`."""
    missing = {
        name: getattr(later, name)
        for name in _OPTIONAL
        if not getattr(kept, name) and getattr(later, name)
    }
    return kept.model_copy(update=missing) if missing else kept


def merge_duplicates(records: list[Record]) -> tuple[list[Paper], int, list[str]]:
    """Papers in first-seen order, the number of merged records, and one warning per source."""
    papers: list[Paper] = []
    index: dict[tuple[str, str], int] = {}
    merged: dict[str, list[str]] = {}
    for record in records:
        keys = [("id", record.paper.id)]
        if norm := normalise_title(record.paper.title):
            keys.append(("title", norm))
        found = next((index[key] for key in keys if key in index), None)
        if found is None:
            found = len(papers)
            papers.append(record.paper)
        else:
            papers[found] = _fill(papers[found], record.paper)
            where = f"line {record.line}" if record.line else f"'{record.paper.id}'"
            merged.setdefault(record.source, []).append(where)
        for key in keys:
            index.setdefault(key, found)
    warnings = []
    for source, places in merged.items():
        more = f" and {len(places) - _SHOWN} more" if len(places) > _SHOWN else ""
        noun = "paper" if len(places) == 1 else "papers"
        warnings.append(
            f"{display_name(source)}: {len(places)} duplicate {noun} merged "
            f"({', '.join(places[:_SHOWN])}{more})"
        )
    return papers, sum(map(len, merged.values())), warnings
