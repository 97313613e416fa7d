"""Request models and the server-only response models of the HTTP API.

The answers, hits, papers, sessions and ingest counts it returns are the rag/ models
themselves (rag/models.py, rag/answer/models.py, rag/sessions.py): one shape for the API,
the CLI's --json and the TUI's client.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from rag.models import PaperList
from rag.sessions import SessionInfo

# A question or query must contain something besides whitespace, in Python's sense of it
# (what str.strip() removes), and invisible characters (BOM, zero-width, soft hyphen): the
# \s of JSON Schema regexes differs (\x1c-\x1f, \x85, \ufeff). See server.checks.INVISIBLE.
NOT_BLANK = ("[^\t-\r\x1c- \x85\xa0\xad\u1680\u180e\u2000-\u200d\u2028\u2029\u202f"
             "\u205f\u2060\u3000\ufeff]")


class _In(BaseModel):
    # Strict: JSON `true` is not a k of 1, nor "3" a k of 3.
    model_config = ConfigDict(extra="forbid", strict=True)


def _whole(value: object) -> object:
    # JSON Schema's "integer" includes 3.0 (the OpenAPI contract says so); strict alone
    # would refuse it. 3.5, true and "3" stay refused.
    return int(value) if isinstance(value, float) and value.is_integer() else value


# -- errors ---------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable tag, e.g. not_found.")
    message: str = Field(description="What went wrong, for people.")
    line: int | None = Field(None, description="1-based line of a malformed upload.")
    param: str | None = Field(None, description="The request field or parameter at fault.")
    would_remove: int | None = Field(None, description="prune_unconfirmed: papers the "
                                     "prune would remove.")
    papers: int | None = Field(None, description="prune_unconfirmed: papers in the "
                               "collection.")


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- health ---------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"]


class LLMStatus(BaseModel):
    configured: bool = Field(description="An OpenAI-compatible endpoint is configured.")
    reachable: bool | None = Field(description="It answered a model listing; null when "
                                   "not configured.")
    model: str | None = Field(description="Chat model sent to the endpoint.")


class ChromaStatus(BaseModel):
    mode: Literal["embedded", "server"] = Field(description="Embedded on disk, or a Chroma "
                                                "server (PAPERCHAT_CHROMA_URL).")
    reachable: bool = Field(description="The collection could be read.")


class DatabaseStatus(BaseModel):
    backend: Literal["sqlite", "postgresql"] = Field(description="Where chat sessions and "
                                                     "ingest leases live.")
    reachable: bool = Field(description="It answered a query within the probe's time.")


class Ready(BaseModel):
    ready: bool
    collection: str
    papers: int = Field(description="Papers in the loaded index.")
    embedder: str = Field(description="Embedding model of the collection.")
    engine: Literal["llm", "extractive"] | None = Field(
        description="Answer engine used when a request does not choose one; null when the "
        "configured engine cannot run (answer.engine=llm without an endpoint).")
    llm: LLMStatus
    chroma: ChromaStatus
    database: DatabaseStatus
    problem: str | None = Field(None, description="Why the index is not ready.")


# -- ask / search ---------------------------------------------------------------------
Engine = Literal["auto", "llm", "extractive"]


class AskRequest(_In):
    question: str = Field(min_length=1, pattern=NOT_BLANK,
                          description="The question; at most server.max_question_chars.")
    # Bounds inside Annotated, before the validator: OpenAPI then says minimum/maximum.
    k: Annotated[StrictInt, Field(ge=1, le=20), BeforeValidator(_whole)] | None = Field(
        None, description="Papers given to the answer engine.")
    engine: Engine | None = Field(None, description="auto (LLM when configured), llm or "
                                  "extractive.")
    session_id: str | None = Field(None, min_length=1, max_length=64,
                                   description="Chat session to continue (see /v1/sessions).")


# -- papers ---------------------------------------------------------------------------
class PaperPage(PaperList):
    """One page of the collection's papers, sorted by title."""

    offset: int
    limit: int


# -- sessions -------------------------------------------------------------------------
class SessionCreate(_In):
    title: str | None = Field(None, max_length=200, description="Shown in session lists; "
                              "the first question titles an untitled session.")


class SessionRename(_In):
    title: str = Field(max_length=200, description="The new title; blank clears it (the next "
                       "question then titles the session).")


class SessionList(BaseModel):
    sessions: list[SessionInfo]


# -- ingest ---------------------------------------------------------------------------
class PaperIn(BaseModel):
    """One paper of a JSON ingest body (the fields `paperchat ingest` reads from JSON).

    Strict: `"doi": 0` or `"year": "2021"` is refused, not converted; other fields are
    ignored."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: str | None = Field(None, description="Stable id; derived from the title if absent.")
    title: str = Field(min_length=1, pattern=NOT_BLANK)
    abstract: str = Field(min_length=1, pattern=NOT_BLANK)
    authors: list[str] | str | None = None
    year: int | None = Field(None, ge=1, le=9999)
    url: str | None = None
    doi: str | None = None
    categories: list[str] | str | None = None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error statuses, all with the one error shape."""
    from http import HTTPStatus

    return {s: {"model": ErrorBody, "description": HTTPStatus(s).phrase} for s in statuses}
