"""`paperchat search` and `paperchat ask`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rag.console import err, print_json, progress_bar, reader_may_leave
from rag.errors import InputError
from rag.vocab import K_MAX, MODES

if TYPE_CHECKING:
    from rag.answer.models import Answer
    from rag.library import Library


def _read_jsonl(path: Path, text_key: str) -> Iterator[tuple[str, str]]:
    """(id, text) per line; a malformed line fails with file:line before any work is done."""
    from rag.errors import ParseError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ParseError(f"cannot read: {e.strerror}", path=str(path)) from e
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ParseError(f"invalid JSON: {e.msg}", path=str(path), line=n) from e
        if not isinstance(obj, dict) or not isinstance(obj.get(text_key), str):
            raise ParseError(f'expected an object with a string "{text_key}"',
                             path=str(path), line=n)
        rows.append((str(obj.get("id", n)), obj[text_key]))
    return iter(rows)


def search_command(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    k: Annotated[int | None, typer.Option(
        "-k", "--k", min=1, max=K_MAX, help="Papers to return (default: retrieval.k, "
        "PAPERCHAT_RETRIEVAL_K).")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection name.")] = None,
    queries: Annotated[Path | None, typer.Option(
        "--queries", help='JSONL file of {"id", "query"}; one result line per query.')] = None,
    mode: Annotated[str | None, typer.Option(
        help=f"Ranking: {', '.join(MODES)} (default: the configured hybrid).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Find the papers that best match a query (hybrid BM25 + embeddings)."""
    # Cheap checks first: a wrong call fails before chromadb or the model is imported.
    if (query is None) == (queries is None):
        raise typer.BadParameter("give a QUERY or --queries FILE (one of them)")
    if query is not None and not query.strip():
        raise InputError("the query is empty; give some words to look for")
    rows = list(_read_jsonl(queries, "query")) if queries is not None else None
    library = _open_library(collection, as_json=as_json)
    with reader_may_leave():
        if rows is not None:
            for qid, text in rows:
                print_json({"id": qid,
                            **library.search(text, k, mode=mode).model_dump(mode="json")})
            return
        assert query is not None
        response = library.search(query, k, mode=mode)
        if as_json:
            print_json(response)
            return
        if not response.results:
            typer.echo("no matching papers")
        for hit in response.results:
            typer.echo(f"{hit.rank:>2}. {hit.title}  [{hit.paper_id}]  score {hit.score:.3f}")
            typer.echo(f"    {hit.snippet}")
    err(f"{response.timings.get('total_ms', 0):.0f} ms")


def ask_command(
    question: Annotated[str | None, typer.Argument(help="Your question.")] = None,
    engine: Annotated[str | None, typer.Option(
        help="auto (LLM when an endpoint is configured), llm or extractive.")] = None,
    k: Annotated[int | None, typer.Option("-k", "--k", min=1, max=20,
                                          help="Papers given to the answer engine.")] = None,
    session: Annotated[str | None, typer.Option(
        "--session", help="Session id to continue (see `paperchat chat`), or 'new'.")] = None,
    questions: Annotated[Path | None, typer.Option(
        "--questions", help='JSONL file of {"id", "question"}; one answer line each.')] = None,
    collection: Annotated[str | None, typer.Option(help="Collection name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer a question from the collection, citing the papers [n]."""
    # Cheap checks first: a wrong call fails before chromadb or the model is imported.
    if (question is None) == (questions is None):
        raise typer.BadParameter("give a QUESTION or --questions FILE (one of them)")
    if question is not None and not question.strip():
        raise InputError("the question is empty; ask something about the papers")
    rows = list(_read_jsonl(questions, "question")) if questions is not None else None
    from rag.answer.service import Assistant
    from rag.sessions import SessionStore

    library = _open_library(collection, as_json=as_json)
    settings = library.settings
    sessions = SessionStore.from_settings(settings)
    assistant = Assistant(settings, library, sessions=sessions)
    if session == "new":
        session = sessions.create(title=(question or "")[:60] or None).id
        err(f"session {session}")
    if rows is not None:
        with reader_may_leave():
            for qid, text in rows:
                answer = assistant.ask(text, k=k, engine=engine)
                print_json({"id": qid, **answer.model_dump(mode="json")})
        return
    assert question is not None
    if as_json or not sys.stdout.isatty():
        answer = assistant.ask(question, k=k, engine=engine, session_id=session)
        if as_json:
            print_json(answer)
        else:
            _print_answer(answer)
        return
    _stream_answer(assistant, question, k=k, engine=engine, session_id=session)


def _stream_answer(assistant: Any, question: str, **kwargs: Any) -> None:
    # `events` raises typed errors (converted to a message and exit code in main.run).
    from rag.answer.events import DoneEvent, ResetEvent, TokenEvent

    for event in assistant.events(question, **kwargs):
        if isinstance(event, TokenEvent):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, ResetEvent):  # printed text cannot be taken back: mark it
            sys.stdout.write("\n")
            err(f"(withdrawn: {event.reason})")
        elif isinstance(event, DoneEvent):
            sys.stdout.write("\n")
            _print_references(event)


def _print_answer(answer: Answer) -> None:
    typer.echo(answer.answer)
    _print_references(answer)


def _print_references(answer: Answer) -> None:
    if answer.notice:
        err(f"note: {answer.notice}")
    if answer.citations:
        typer.echo("\nSources:")
        for c in answer.citations:
            tail = f"  (support {c.support:.2f})" if c.support is not None else ""
            typer.echo(f"  [{c.n}] {c.title}  [{c.paper_id}]{tail}")
    cited = {c.paper_id for c in answer.citations}
    related = [h for h in answer.sources if h.paper_id not in cited]
    if related:  # what the lead's "N more are related" counts
        typer.echo("\nRelated, not cited:")
        for h in related:
            tail = f"  (relevance {h.relevance:.2f})" if h.relevance is not None else ""
            typer.echo(f"  - {h.title}  [{h.paper_id}]{tail}")
    for sentence in answer.unsupported:
        err(f"weakly supported: {sentence}")
    err(f"{answer.engine} · {answer.timings.get('total_ms', 0):.0f} ms")


def _open_library(collection: str | None, *, as_json: bool) -> Library:
    """The collection to query; on first run the default one is filled with the bundled papers.

    An empty collection exits 4 with the command that fills it (rag.errors.EmptyCollection)."""
    from ingest.pipeline import ensure_ingested
    from rag.errors import EmptyCollection
    from rag.library import Library
    from rag.settings import load_settings

    library = Library(load_settings(collection=collection))
    with progress_bar("First run: indexing the bundled collection", enabled=not as_json) as bar:
        if ensure_ingested(library, progress=bar) is not None and not as_json:
            err("indexed the bundled collection")
    if library.is_empty():
        raise EmptyCollection(library.settings.collection,
                              default=library.settings.is_default_collection)
    return library
