"""The app factory: settings in, FastAPI app out (no module-level state)."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from rag.settings import Settings
from server import ask, errors, health, ingest, openai_compat, papers, search, sessions
from server.lifespan import lifespan
from server.limits import BodyLimit, CancelOnDisconnect, body_limit
from server.openapi import build_openapi
from server.schemas import error_responses
from server.security import Authenticate, KeyRing, bearer_documented

DESCRIPTION = """Ask questions about a collection of research-paper abstracts; answers cite
the papers as [n]. OpenAI-compatible clients can use `/v1` with model `paperchat`.

With `PAPERCHAT_API_KEY` (or `PAPERCHAT_API_KEYS`, one key per user) set, every `/v1` route
needs `Authorization: Bearer <key>`; the key is checked before the body is read. Chat
sessions belong to the user whose key created them. Errors have one shape,
`{"error": {"code": ..., "message": ...}}` (with `param` or `line` where they apply), except
on the OpenAI-compatible routes (`/v1/chat/completions`, `/v1/models`), which answer as
OpenAI does: `{"error": {"message", "type", "param", "code"}}`, 400 for invalid requests."""


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the lifespan opens the collection and loads the models once."""
    app = FastAPI(title="paperchat", version=_version(), description=DESCRIPTION,
                  lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    errors.install(app)
    # Outermost last: CORS, then the key check (headers only), then cancel-on-disconnect,
    # then the per-route body limit as the body streams in.
    app.add_middleware(BodyLimit, limit=body_limit(settings))
    app.add_middleware(CancelOnDisconnect)
    app.add_middleware(Authenticate, keys=KeyRing(settings))
    if settings.server.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.server.cors_origins,
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    app.include_router(health.router)
    guarded, v1_errors = [Depends(bearer_documented)], error_responses(400, 401, 413, 422)
    for module in (ask, search, papers, sessions, ingest):
        app.include_router(module.router, prefix="/v1", dependencies=guarded,
                           responses=v1_errors)
    # OpenAI's error shape and statuses (its router documents them).
    app.include_router(openai_compat.router, prefix="/v1", dependencies=guarded)
    app.openapi = lambda: build_openapi(app, settings)  # type: ignore[method-assign]
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paperchat")
    except PackageNotFoundError:
        return "0+unknown"
