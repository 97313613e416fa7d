"""FastAPI dependencies: what the lifespan put on `app.state`, as Annotated aliases.

Tests replace them with `app.dependency_overrides[get_x] = ...`. They are `async` so that
FastAPI does not hop to the threadpool just to read an attribute.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.answer.service import Assistant
from rag.embedders import Embedder
from rag.library import Library
from rag.sessions import SessionStore
from rag.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]  # app.state is untyped


async def get_library(request: Request) -> Library:
    return request.app.state.library  # type: ignore[no-any-return]  # app.state is untyped


async def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant  # type: ignore[no-any-return]  # app.state is untyped


async def get_sessions(request: Request) -> SessionStore:
    return request.app.state.sessions  # type: ignore[no-any-return]  # app.state is untyped


async def get_ingest_embedder(request: Request) -> Embedder | None:
    """The embedder HTTP ingests use (a worker process), None for the library's own."""
    return getattr(request.app.state, "ingest_embedder", None)


SettingsDep = Annotated[Settings, Depends(get_settings)]
LibraryDep = Annotated[Library, Depends(get_library)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
SessionsDep = Annotated[SessionStore, Depends(get_sessions)]
IngestEmbedderDep = Annotated[Embedder | None, Depends(get_ingest_embedder)]
