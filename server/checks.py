"""Request checks that depend on settings, shared by the ask and chat routes."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool

from rag.answer.models import Answer
from rag.answer.service import Assistant
from rag.errors import ConfigError, InputError
from rag.sessions import SessionStore
from rag.settings import Settings
from server.errors import redact
from server.security import User

# Characters that show nothing: a question made of them and whitespace is blank.
INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060\u180e\u00ad"
_DROP_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE))


def check_question(question: str, settings: Settings) -> str:
    """The question, or InputError when blank (whitespace, BOMs and zero-width characters
    only) or longer than server.max_question_chars."""
    limit = settings.server.max_question_chars
    if not question.translate(_DROP_INVISIBLE).strip():
        raise InputError("the question is empty")
    if len(question) > limit:
        raise InputError(f"the question is {len(question)} characters long; the limit is "
                         f"{limit}")
    return question


def check_engine(assistant: Assistant, engine: str | None) -> None:
    """InputError when the request asks for an engine this server cannot run."""
    try:
        assistant.resolve_engine(engine)
    except ConfigError as e:
        raise InputError("the llm engine is not available: this server has no LLM endpoint "
                         "configured; use engine=auto or extractive") from e


A = TypeVar("A", bound=Answer)


def public_answer(answer: A, settings: Settings) -> A:
    """The answer (or `done` event) with any configured endpoint or secret scrubbed from its
    notice."""
    if answer.notice:
        return answer.model_copy(update={"notice": redact(answer.notice, settings)})
    return answer


async def check_session(sessions: SessionStore, session_id: str | None, user: User) -> None:
    """NotFoundError (404) unless the session exists and belongs to the caller."""
    if session_id is not None:
        await run_in_threadpool(lambda: sessions.check(session_id, owner=user.name))


async def answer_of(assistant: Assistant, question: str, settings: Settings,
                    **options: Any) -> Answer:
    """The answer, produced on the event loop: cancelling the request (the client left)
    stops retrieval and generation and closes the LLM's stream. Failures are raised
    (PaperchatError subclasses)."""
    return public_answer(await assistant.aask(question, **options), settings)
