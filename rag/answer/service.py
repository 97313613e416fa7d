"""The Assistant: a question in, a cited answer out; whole, streamed, sync or async.

One pipeline (rag.answer.pipeline), written async. `astream` and `aask` run it on the
caller's event loop (server, TUI); `ask`, `events` and `stream` run it on the bridge's loop
for synchronous callers (CLI, evals) and wrap it (rag.answer.bridge).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Generator
from contextlib import aclosing
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rag.answer import bridge
from rag.answer.engines import AnswerEngine, ExtractiveEngine, LLMEngine
from rag.answer.events import DoneEvent, ErrorEvent, Event
from rag.answer.llm import ChatModel
from rag.answer.models import Answer
from rag.answer.pipeline import Pipeline, Request
from rag.answer.searchable import Searchable
from rag.answer.stages import RelevanceStage
from rag.answer.vectors import SentenceVectors
from rag.errors import ConfigError, InputError, PaperchatError
from rag.relevance.stage import make_relevance_stage
from rag.sessions import SessionStore
from rag.sessions import history as session_history

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger(__name__)
ENGINES = ("auto", "llm", "extractive")
MAX_K = 20


class Assistant:
    """Answers questions about one collection with either engine.

    Keyword arguments of every entry point: k (papers given to the engine, default
    settings.answer.k), engine ("auto" | "llm" | "extractive"), session_id (load the
    history from the session store and save the new turn there), history (explicit
    [{"role": "user"|"assistant", "content": str, "citations"?: [...]}]; wins over the
    session's stored history when both are given).
    """

    def __init__(self, settings: Settings, library: Searchable, *,
                 sessions: SessionStore | None = None,
                 relevance: RelevanceStage | None = None) -> None:
        self.settings = settings
        self.library = library
        self._sessions = sessions
        self._relevance = relevance

    @property
    def sessions(self) -> SessionStore:
        """The session store given, else the configured database's (opened on first use)."""
        if self._sessions is None:
            self._sessions = SessionStore.from_settings(self.settings)
        return self._sessions

    @cached_property
    def chat(self) -> ChatModel:
        return ChatModel(self.settings.llm)

    @cached_property
    def vectors(self) -> SentenceVectors:
        return SentenceVectors(self.library.embedder)

    @cached_property
    def engines(self) -> dict[str, AnswerEngine]:
        return {"llm": LLMEngine(self.settings, lambda: self.chat),
                "extractive": ExtractiveEngine(self.settings, self.vectors)}

    @cached_property
    def pipeline(self) -> Pipeline:
        relevance = self._relevance or make_relevance_stage(self.settings, self.library,
                                                         self.vectors)
        return Pipeline(self.settings, self.library, engines=self.engines,
                        relevance=relevance, vectors=self.vectors,
                        sessions=lambda: self.sessions)

    def resolve_engine(self, engine: str | None = None) -> str:
        """'llm' or 'extractive'; auto = llm when an endpoint or key is configured."""
        engine = engine or self.settings.answer.engine
        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
        if engine == "auto":
            return "llm" if self.settings.llm.configured else "extractive"
        if engine == "llm" and not self.settings.llm.configured:
            raise ConfigError("the llm engine needs an endpoint: set OPENAI_API_KEY, or "
                              "PAPERCHAT_LLM_BASE_URL for a local OpenAI-compatible server")
        return engine

    # -- async entry points (the pipeline itself) ----------------------------------
    async def aask(self, question: str, *, k: int | None = None, engine: str | None = None,
                   session_id: str | None = None,
                   history: list[dict[str, Any]] | None = None) -> Answer:
        """Answer a question; raises PaperchatError subclasses on failure."""
        items = self._run(question, k=k, engine=engine, session_id=session_id, history=history)
        async with aclosing(items):
            async for item in items:
                if isinstance(item, Answer):
                    return item
        raise AssertionError("the pipeline ended without an answer")  # pragma: no cover

    async def aevents(self, question: str, *, k: int | None = None,
                      engine: str | None = None, session_id: str | None = None,
                      history: list[dict[str, Any]] | None = None
                      ) -> AsyncGenerator[Event, None]:
        """sources, token... (reset, token...), citations, done; failures are raised."""
        items = self._run(question, k=k, engine=engine, session_id=session_id, history=history)
        async with aclosing(items):
            async for item in items:
                yield DoneEvent.of(item) if isinstance(item, Answer) else item

    async def astream(self, question: str, *, k: int | None = None,
                      engine: str | None = None, session_id: str | None = None,
                      history: list[dict[str, Any]] | None = None
                      ) -> AsyncGenerator[Event, None]:
        """`aevents`, a failure becoming an `error` event (never an exception); closing or
        cancelling it closes the LLM's HTTP stream."""
        try:
            async with aclosing(self.aevents(question, k=k, engine=engine,
                                             session_id=session_id, history=history)) as events:
                async for event in events:
                    yield event
        except Exception as e:
            yield _error_event(e)

    # -- sync entry points (CLI, evals): the same pipeline on the bridge's loop ------
    def ask(self, question: str, *, k: int | None = None, engine: str | None = None,
            session_id: str | None = None, history: list[dict[str, Any]] | None = None
            ) -> Answer:
        """Answer a question; raises PaperchatError subclasses on failure."""
        return bridge.run(self.aask(question, k=k, engine=engine, session_id=session_id,
                                    history=history))

    def events(self, question: str, *, k: int | None = None, engine: str | None = None,
               session_id: str | None = None, history: list[dict[str, Any]] | None = None
               ) -> Generator[Event, None, None]:
        """Like `stream`, but a failure is raised (typed) instead of yielded as an error."""
        return bridge.iterate(self.aevents(question, k=k, engine=engine,
                                           session_id=session_id, history=history))

    def stream(self, question: str, *, k: int | None = None, engine: str | None = None,
               session_id: str | None = None, history: list[dict[str, Any]] | None = None
               ) -> Generator[Event, None, None]:
        """sources, token..., citations, done; or an error event (never an exception)."""
        return bridge.iterate(self.astream(question, k=k, engine=engine,
                                           session_id=session_id, history=history))

    # -- the pipeline --------------------------------------------------------------
    async def _run(self, question: str, *, k: int | None = None, engine: str | None = None,
                   session_id: str | None = None, history: list[dict[str, Any]] | None = None
                   ) -> AsyncGenerator[Event | Answer, None]:
        request = await asyncio.to_thread(self._prepare, question, k, engine, session_id,
                                          history)
        async with aclosing(self.pipeline.run(request)) as items:
            async for item in items:
                yield item

    def _prepare(self, question: str, k: int | None, engine: str | None,
                 session_id: str | None, history: list[dict[str, Any]] | None) -> Request:
        question = (question or "").strip()
        if not question:
            raise InputError("the question is empty")
        k = self.settings.answer.k if k is None else k
        if not 1 <= k <= MAX_K:
            raise InputError(f"k must be between 1 and {MAX_K}, got {k}")
        chosen = self.engines[self.resolve_engine(engine)]
        if history is None and session_id:
            # Only the latest messages (settings.answer.history_messages): the extractive
            # condense uses the last answer and two questions, the llm prompts keep what fits
            # the window, and a turn's cost stays flat however long the session grows.
            history = session_history(self.sessions.recent(
                session_id, self.settings.answer.history_messages))
        turns = _check_history(history or [])
        if turns and not chosen.quotes:  # don't spend a condense call on an empty collection
            self.pipeline.check_not_empty()
        return Request(question, k, chosen, turns, session_id)


def _check_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, turn in enumerate(history):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant") \
                or not isinstance(turn.get("content"), str):
            raise InputError(f"history[{i}] must be {{'role': 'user'|'assistant', "
                             "'content': str}")
        out.append(turn)
    return out


def _error_event(e: Exception) -> Event:
    if isinstance(e, PaperchatError):
        return ErrorEvent(code=e.code, message=str(e))
    log.exception("unexpected error while answering")
    return ErrorEvent(code="internal_error",
                      message=f"internal error ({type(e).__name__}); see the log")
