"""Startup: open the collection, load the embedder and warm the index once per process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from rag.answer.service import Assistant
from rag.db.writers import make_writer_lock
from rag.embedders.worker import ProcessEmbedder
from rag.errors import PaperchatError
from rag.library import Library
from rag.sessions import SessionStore
from rag.settings import Settings
from server.limits import AnswerSlots

log = logging.getLogger("paperchat.server")


def index_status(library: Library) -> tuple[int, str | None]:
    """(papers, problem): opens the store, keyword index and embedder if not yet open."""
    try:
        papers = library.count()
        _ = library.embedder  # loads the model
        if papers:
            library.check_embedder()
            _ = library.keyword
        return papers, None
    except PaperchatError as e:
        return 0, e.code


def warm_up(library: Library) -> str | None:
    """Load everything and run one search, so the first request pays no start-up cost."""
    papers, problem = index_status(library)
    if problem is None and papers:
        try:
            library.search("warm up the index", 1)
        except PaperchatError as e:
            problem = e.code
    if problem:
        log.warning("index not ready at start-up: %s", problem)
    return problem


def migrate(sessions: SessionStore) -> str | None:
    """Bring the shared-state database's schema up to date; a database that is down does not
    stop the server (search and ask without a session work; session routes answer 503 and
    the schema is migrated on the first use after it is back)."""
    try:
        sessions.db.upgrade()
        return None
    except PaperchatError as e:
        log.warning("database not ready at start-up: %s", e)
        return e.code


def ingest_embedder(settings: Settings) -> ProcessEmbedder | None:
    """The embedder an HTTP ingest uses (server.ingest_embedding); None: the library's own."""
    mode = settings.server.ingest_embedding
    if mode == "auto":
        mode = "process" if settings.embed.provider == "minilm" else "inline"
    if mode == "inline":
        return None
    return ProcessEmbedder(settings, nice=settings.server.ingest_nice,
                           threads=settings.server.ingest_threads)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the Library, SessionStore and Assistant from `app.state.settings`."""
    settings: Settings = app.state.settings
    sessions = SessionStore.from_settings(settings)
    # One pool for sessions and the ingest lease (with PAPERCHAT_DATABASE_URL; else a file).
    library = Library(settings, writer_lock=make_writer_lock(settings, sessions.db))
    app.state.library = library
    app.state.sessions = sessions
    app.state.assistant = Assistant(settings, library, sessions=sessions)
    app.state.slots = AnswerSlots(settings.server.max_answers,
                                  settings.server.max_queued_answers)
    await to_thread.run_sync(migrate, sessions)
    app.state.ingest_embedder = worker = ingest_embedder(settings)
    await to_thread.run_sync(warm_up, library)
    try:
        yield
    finally:
        if worker is not None:
            await to_thread.run_sync(worker.close)
