"""`paperchat ingest` and `paperchat papers`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ingest.formats import FORMATS
from rag.console import err, print_json, progress_bar, reader_may_leave


def ingest_command(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Collection files (trending page dump, JSON/JSONL, BEIR corpus.jsonl, arXiv "
        "metadata, CSV, BibTeX). Default: the bundled 119-paper collection.")] = None,
    format: Annotated[str | None, typer.Option(
        "--format", "-f", help="Force a format instead of detecting it: "
        f"{', '.join(FORMATS)}.")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection name.")] = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Remove papers that are no longer in the given files (with no "
        "files: the bundled collection).")] = False,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Start over: re-embed everything (needed after changing the "
        "embedding model). The old index stays queryable until the new one is complete.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Parse collection files and index them (incremental: unchanged papers are skipped)."""
    from ingest.pipeline import ingest_paths
    from rag.library import Library
    from rag.settings import load_settings

    settings = load_settings(collection=collection)
    library = Library(settings)
    with progress_bar("Embedding papers", enabled=not as_json) as bar:
        report = ingest_paths(
            library, paths or [], format=format, prune=prune, rebuild=rebuild, progress=bar,
            on_wait=lambda: err(f"waiting for another ingest into '{settings.collection}' to "
                                f"finish (at most {settings.ingest_wait:.0f} s)..."))
    for warning in report.warnings:
        err(f"warning: {warning}")
    if as_json:
        # The warnings went to stderr above; the counts are what a script reads.
        print_json(report.model_dump(mode="json", exclude={"duplicates", "warnings"}))
        return
    backfilled = (f"; sentence vectors added for {report.backfilled} unchanged papers"
                  if report.backfilled else "")
    typer.echo(
        f"{report.collection}: {report.papers} papers ({report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.removed} removed), "
        f"{report.chunks} chunks, {report.seconds:.1f}s{backfilled}")


def papers_command(
    collection: Annotated[str | None, typer.Option(help="Collection name.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help='Print one JSON object: {"collection", "count", "papers": '
        '[{"paper_id", "title", "year", "authors"}]}.')] = False,
) -> None:
    """List the papers in the collection (id and title, tab-separated)."""
    from rag.errors import fill_hint
    from rag.library import Library
    from rag.models import PaperList, PaperSummary
    from rag.settings import load_settings

    library = Library(load_settings(collection=collection))
    papers = library.papers()
    with reader_may_leave():
        if as_json:
            print_json(PaperList(collection=library.settings.collection, count=len(papers),
                                 papers=[PaperSummary.of(p) for p in papers]))
            return
        for p in papers:
            typer.echo(f"{p.id}\t{p.title}")
    if not papers:
        name = library.settings.collection
        err(f"the collection '{name}' is empty; "
            f"{fill_hint(name, default=library.settings.is_default_collection)}")
        return
    err(f"{len(papers)} papers")
