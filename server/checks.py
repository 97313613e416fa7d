"""Request checks that depend on settings, shared by the ask and chat routes."""

from __future__ import annotations

from typing import Any

from rag.answer.service import Assistant
from rag.errors import ConfigError, InputError
from rag.settings import Settings
from server.errors import redact


def check_question(question: str, settings: Settings) -> str:
    """The question, or InputError when blank or longer than server.max_question_chars."""
    limit = settings.server.max_question_chars
    if not question.strip():
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


def public_answer(data: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """An answer's JSON with any configured endpoint or secret scrubbed from its notice."""
    if data.get("notice"):
        data["notice"] = redact(data["notice"], settings)
    return data
