"""The edge where errors become responses: one shape, `{"error": {"code", "message"}}`.

Client mistakes (bad input, unknown ids, malformed uploads) keep their message; server-side
failures get a fixed message, because theirs may name endpoints, paths or keys from the
environment. Every message is also scrubbed of the configured secrets and URLs.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from rag.answer.events import ErrorEvent
from rag.answer.llm import public_endpoint
from rag.errors import (
    CollectionError,
    ConfigError,
    DatabaseError,
    DatabaseUnavailable,
    EmbedderError,
    IngestBusy,
    IngestError,
    InputError,
    LLMUnavailable,
    NotFoundError,
    PaperchatError,
    ParseError,
    PruneRefused,
)
from rag.settings import Settings

log = logging.getLogger("paperchat.server")

# (status, fixed message or None to keep the error's own message), most specific first.
_MAP: list[tuple[type[PaperchatError], int, str | None]] = [
    (NotFoundError, 404, None),
    (PruneRefused, 409, None),
    (ParseError, 422, None),
    (InputError, 422, None),
    (LLMUnavailable, 503, "the language model endpoint is unavailable; try again later"),
    (EmbedderError, 503, "the embedding model is unavailable"),
    (DatabaseUnavailable, 503, "the session database is unavailable; questions without a "
     "session still work"),
    (DatabaseError, 500, "the session database cannot be used"),
    (CollectionError, 503, "the paper index is unavailable"),
    (IngestBusy, 409, None),
    (IngestError, 500, "ingest failed; the previous index is unchanged"),
    (ConfigError, 500, "the server is misconfigured"),
]
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
          422: "invalid_input", 503: "unavailable"}


class BodyTooLarge(StarletteHTTPException):
    """Raised while reading a request body past the route's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class AnswerFailed(Exception):
    """An `error` event of the answer stream, raised by a route that returns whole JSON."""

    def __init__(self, event: ErrorEvent) -> None:
        super().__init__(event.code)
        self.event = event


class BadParameter(StarletteHTTPException):
    """400: a query parameter the route does not know, or one that does not apply."""

    code = "invalid_parameter"

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


class Overloaded(StarletteHTTPException):
    """503 with Retry-After: every answer slot and the waiting line are taken."""

    code = "overloaded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(503, message, headers={"Retry-After": str(retry_after)})


def secrets_of(settings: Settings) -> list[str]:
    """Values from the configuration that must never appear in a response."""
    values = [settings.api_key, settings.admin_key, settings.llm.api_key, settings.embed.api_key]
    out = [v.get_secret_value() for v in values if v is not None]
    out += [u for u in (settings.llm.base_url, settings.embed.base_url, settings.chroma_url) if u]
    if settings.llm.base_url:
        out.append(public_endpoint(settings.llm.base_url))
    out.append(str(settings.home))
    return sorted((s for s in out if len(s) >= 4), key=len, reverse=True)


def redact(message: str, settings: Settings | None) -> str:
    """`message` with every configured secret, URL and data path replaced by ***."""
    if settings is not None:
        for secret in secrets_of(settings):
            message = message.replace(secret, "***")
    return message


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message,
                      **{k: v for k, v in extra.items() if v is not None}}}


def reject(scope: Scope, status: int, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    """An error response for middleware that answers before the app (no settings there:
    `message` must be safe as it is)."""
    return JSONResponse(error_body(_CODES.get(status, "error"), message), status_code=status,
                        headers=headers)


def _rule(cls: type[BaseException]) -> tuple[int, str | None]:
    for base, status, fixed in _MAP:
        if issubclass(cls, base):
            return status, fixed
    return 500, "internal server error"


def _subclasses(cls: type[PaperchatError]) -> list[type[PaperchatError]]:
    return [cls] + [c for sub in cls.__subclasses__() for c in _subclasses(sub)]


# Stream error events carry only a code; this finds the rule of the class behind it.
_BY_CODE = {cls.code: _rule(cls) for cls in _subclasses(PaperchatError)}


def describe(exc: PaperchatError, settings: Settings | None) -> tuple[int, dict[str, Any]]:
    """(status, body) for one of our errors."""
    status, fixed = _rule(type(exc))
    extra: dict[str, Any] = {}
    if isinstance(exc, ParseError):
        extra["line"] = exc.line
    if isinstance(exc, PruneRefused):
        extra.update(would_remove=exc.would_remove, papers=exc.papers)
    return status, error_body(exc.code, fixed or redact(str(exc), settings), **extra)


def describe_event(event: ErrorEvent, settings: Settings | None) -> tuple[int, dict[str, Any]]:
    """(status, safe {"code", "message"}) for an `error` stream event."""
    code = event.code or "internal_error"
    status, fixed = _BY_CODE.get(code, (500, "internal server error"))
    return status, {"code": code, "message": fixed or redact(event.message, settings)}


def _settings(request: Request) -> Settings | None:
    return getattr(request.app.state, "settings", None)


async def _paperchat(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PaperchatError)
    status, body = describe(exc, _settings(request))
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse(body, status_code=status)


async def _answer_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AnswerFailed)
    status, detail = describe_event(exc.event, _settings(request))
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, detail["code"])
    return JSONResponse(error_body(**detail), status_code=status)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    code = getattr(exc, "code", None) or _CODES.get(status, "error")
    headers = dict(exc.headers or {})
    if status == 405:
        # Starlette lists only the first route matching the path; a path can have several.
        headers["Allow"] = _allowed_methods(request)
    return JSONResponse(error_body(code, redact(detail, _settings(request))),
                        status_code=status, headers=headers)


def _allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in request.app.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed: it may be large, or a credential.
    problems = [f"{_where(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}"
                for e in exc.errors()[:5]]
    return JSONResponse(error_body("invalid_input", "; ".join(problems)), status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""
    app.add_exception_handler(PaperchatError, _paperchat)
    app.add_exception_handler(AnswerFailed, _answer_failed)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)

