"""The edge where errors become responses.

The native API has one shape, `{"error": {"code", "message"}}` (plus `param`, `line`... where
they apply). The OpenAI-compatible routes (/v1/chat/completions, /v1/models) answer as
OpenAI does, so its SDKs raise the right exception: `{"error": {"message", "type", "param",
"code"}}`, 400 for every invalid request (never 422), 404 `model_not_found`.

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
    """An `error` event that a streaming route got first, before any response was sent."""

    def __init__(self, event: ErrorEvent) -> None:
        super().__init__(event.code)
        self.event = event


class BadParameter(StarletteHTTPException):
    """400: a parameter the route does not know, does not support, or that does not apply."""

    def __init__(self, message: str, param: str | None = None,
                 code: str = "invalid_parameter") -> None:
        super().__init__(400, message)
        self.param, self.code = param, code


class Overloaded(StarletteHTTPException):
    """503 with Retry-After: every answer slot and the waiting line are taken."""

    code = "overloaded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(503, message, headers={"Retry-After": str(retry_after)})


def secrets_of(settings: Settings) -> list[str]:
    """Values from the configuration that must never appear in a response."""
    values = [settings.api_key, settings.admin_key, settings.llm.api_key, settings.embed.api_key,
              *settings.api_keys.values()]
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


def openai_flavoured(path: str) -> bool:
    """The OpenAI-compatible routes, whose errors follow OpenAI's shape and statuses."""
    return path == "/v1/chat/completions" or path == "/v1/models" or \
        path.startswith("/v1/models/")


# Our codes as OpenAI names them; the others pass through.
_OPENAI_CODES = {"unauthorized": "invalid_api_key", "invalid_input": "invalid_value"}


def openai_error(status: int, code: str, message: str,
                 param: str | None = None) -> tuple[int, dict[str, Any]]:
    """(status, body) as OpenAI's API gives them: 400 for every invalid request."""
    status = 400 if status == 422 else status
    kind = ("server_error" if status >= 500 else "rate_limit_error" if status == 429
            else "permission_error" if status == 403 else "invalid_request_error")
    return status, {"error": {"message": message, "type": kind, "param": param,
                              "code": _OPENAI_CODES.get(code, code)}}


def respond(path: str, status: int, code: str, message: str, *, param: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The error response for `path`: OpenAI's shape on its routes, ours elsewhere."""
    if openai_flavoured(path):
        status, body = openai_error(status, code, message, param)
    else:
        body = error_body(code, message, param=param, **extra)
    return JSONResponse(body, status_code=status, headers=headers)


def reject(scope: Scope, status: int, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    """An error response for middleware that answers before the app (no settings there:
    `message` must be safe as it is)."""
    return respond(scope.get("path", ""), status, _CODES.get(status, "error"), message,
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
    return status, error_body(exc.code, fixed or redact(str(exc), settings), **_extra(exc))


def _extra(exc: PaperchatError) -> dict[str, Any]:
    """The fields an error carries besides code and message."""
    extra: dict[str, Any] = {"param": getattr(exc, "param", None)}
    if isinstance(exc, ParseError):
        extra["line"] = exc.line
    if isinstance(exc, PruneRefused):
        extra.update(would_remove=exc.would_remove, papers=exc.papers)
    return extra


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
    return respond(request.url.path, status, **body["error"])


async def _answer_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AnswerFailed)
    status, detail = describe_event(exc.event, _settings(request))
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, detail["code"])
    return respond(request.url.path, status, detail["code"], detail["message"])


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    code = getattr(exc, "code", None) or _CODES.get(status, "error")
    headers = dict(exc.headers or {})
    if status == 405:
        # Starlette lists only the first route matching the path; a path can have several.
        headers["Allow"] = _allowed_methods(request)
    return respond(request.url.path, status, code, redact(detail, _settings(request)),
                   param=getattr(exc, "param", None), headers=headers)


def _allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in request.app.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


def _problem(error: Any) -> tuple[str, str, str]:
    """(param, OpenAI-style code, message) of one validation error; the offending input is
    not echoed: it may be large, or a credential."""
    kind, loc = str(error.get("type", "")), tuple(error.get("loc", ()))
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "malformed")
        at = f" (character {loc[1]})" if len(loc) > 1 else ""
        return "body", "invalid_json", f"the request body is not valid JSON: {reason}{at}"
    param = _where(loc)
    if kind == "missing":
        return param, "missing_required_parameter", f"{param}: required, but missing"
    if kind == "extra_forbidden":
        return param, "unknown_parameter", f"unrecognized request argument supplied: {param}"
    code = "invalid_type" if kind.endswith(("_type", "_parsing")) else "invalid_value"
    return param, code, f"{param}: {error.get('msg', 'invalid')}"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(e) for e in exc.errors()[:5]]
    path = request.url.path
    if openai_flavoured(path):
        param, code, message = problems[0]
        return respond(path, 400, code, message, param=param)
    return respond(path, 422, "invalid_input", "; ".join(m for _, _, m in problems),
                   param=problems[0][0] if len(problems) == 1 else None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return respond(request.url.path, 500, "internal_error", "internal server error")


def install(app: FastAPI) -> None:
    """Register the handlers that give every error its route's shape."""
    app.add_exception_handler(PaperchatError, _paperchat)
    app.add_exception_handler(AnswerFailed, _answer_failed)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
