"""Files in, index updated: parse everything first, then write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.parsers import ParseResult
    from rag.library import Library
    from rag.models import IngestReport


def ingest_paths(library: Library, paths: Sequence[Path], *, format: str | None = None,
                 prune: bool = False, rebuild: bool = False,
                 progress: Callable[[int, int], None] | None = None,
                 on_wait: Callable[[], None] | None = None) -> IngestReport:
    """Parse and validate every file (nothing is written if one is malformed), then ingest."""
    from ingest.bundled import bundled_collection_path
    from ingest.parsers import parse_files

    files = list(paths) or [bundled_collection_path()]
    parsed = parse_files(files, format=format)
    return ingest_parsed(library, parsed, prune=prune, rebuild=rebuild, progress=progress,
                         on_wait=on_wait)


def ingest_parsed(library: Library, parsed: ParseResult, **options: Any) -> IngestReport:
    """Index parsed papers (`options` go to `Library.ingest`); the report also counts the
    duplicates merged while parsing and carries the parse warnings."""
    report = library.ingest(parsed.papers, **options)
    return report.model_copy(update={"duplicates": parsed.duplicates,
                                     "warnings": list(parsed.warnings)})


def ensure_ingested(library: Library, progress: Callable[[int, int], None] | None = None
                    ) -> IngestReport | None:
    """First run: ingest the bundled collection when the default collection is empty.

    Other collections are never filled implicitly: a mistyped `--collection` must not
    quietly become a copy of the bundled papers (callers then say the collection is empty)."""
    if not library.settings.is_default_collection:
        return None
    if not library.is_empty():
        return None
    return ingest_paths(library, [], progress=progress)
