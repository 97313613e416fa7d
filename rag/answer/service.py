"""The Assistant: a question in, a cited answer out; sync, streamed, or async-streamed.

Pipeline per question: validate -> load history (explicit, or the session's last messages) ->
condense a follow-up (llm: ask the model; extractive: `followup.condense`) -> retrieve ->
refuse if nothing is relevant (no LLM call) -> generate (llm stream, or extractive) with
citations renumbered as tokens stream -> support scores -> save the turn to the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import aclosing, closing, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from rag.answer import budget, extractive, followup, prompts, refusal
from rag.answer.citations import Renumberer, score_support
from rag.answer.events import Event
from rag.answer.llm import CONDENSE_MAX_TOKENS, ChatModel
from rag.answer.models import Answer, Citation
from rag.answer.vectors import SentenceVectors
from rag.errors import CollectionError, ConfigError, InputError, LLMUnavailable, PaperchatError
from rag.sessions import SessionStore
from rag.sessions import history as session_history
from rag.tokens import count_tokens

if TYPE_CHECKING:
    from rag.embedders import Embedder
    from rag.models import SearchHit, SearchResponse
    from rag.settings import Settings

log = logging.getLogger(__name__)
ENGINES = ("auto", "llm", "extractive")
MAX_K = 20


class Searchable(Protocol):
    """What the Assistant needs from an opened collection (rag.library.Library)."""

    settings: Settings

    @property
    def embedder(self) -> Embedder: ...

    def search(self, query: str, k: int | None = None, *,
               mode: str | None = None) -> SearchResponse: ...

    def is_empty(self) -> bool: ...


class _LLMCall(TypedDict):
    """Keyword arguments of one ChatModel request (complete/stream_chat and async twins)."""

    messages: budget.Messages
    max_tokens: int
    usage: dict[str, int]  # filled by the request when the server reports it


@dataclass
class _Turn:
    """State of one question while it is answered."""

    question: str
    k: int
    engine: str
    history: list[dict[str, Any]]
    session_id: str | None
    started: float = field(default_factory=time.perf_counter)
    standalone: str | None = None
    hits: list[SearchHit] = field(default_factory=list)
    pool: list[SearchHit] = field(default_factory=list)  # what the markers number
    renum: Renumberer = field(default_factory=lambda: Renumberer(0))
    parts: list[str] = field(default_factory=list)  # emitted (renumbered) text
    raw: list[str] = field(default_factory=list)  # text as generated
    refused: bool = False
    degraded: bool = False
    notice: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    gen_started: float = 0.0
    answer: Answer | None = None

    def since(self, t: float) -> float:
        return (time.perf_counter() - t) * 1000


class Assistant:
    """Answers questions about one collection with either engine."""

    def __init__(self, settings: Settings, library: Searchable, *,
                 sessions: SessionStore | None = None) -> None:
        self.settings = settings
        self.library = library
        self._sessions = sessions

    @property
    def sessions(self) -> SessionStore:
        """The session store given, else `<home>/sessions.sqlite3` (opened on first use)."""
        if self._sessions is None:
            self._sessions = SessionStore(self.settings.home / "sessions.sqlite3")
        return self._sessions

    @cached_property
    def chat(self) -> ChatModel:
        return ChatModel(self.settings.llm)

    @cached_property
    def vectors(self) -> SentenceVectors:
        return SentenceVectors(self.library.embedder)

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

    # -- public entry points -----------------------------------------------------
    # Keyword arguments of every entry point: k (papers given to the engine, default
    # settings.answer.k), engine ("auto" | "llm" | "extractive"), session_id (load the
    # history from the session store and save the new turn there), history (explicit
    # [{"role": "user"|"assistant", "content": str, "citations"?: [...]}]; wins over the
    # session's stored history when both are given).
    def ask(self, question: str, *, k: int | None = None, engine: str | None = None,
            session_id: str | None = None, history: list[dict[str, Any]] | None = None
            ) -> Answer:
        """Answer a question; raises PaperchatError subclasses on failure."""
        turn = self._prepare(question, k=k, engine=engine, session_id=session_id,
                             history=history)
        for _ in self._events(turn):
            pass
        assert turn.answer is not None
        return turn.answer

    def events(self, question: str, *, k: int | None = None, engine: str | None = None,
               session_id: str | None = None, history: list[dict[str, Any]] | None = None
               ) -> Generator[Event, None, None]:
        """Like `stream`, but a failure is raised (typed) instead of yielded as an error."""
        yield from self._events(self._prepare(question, k=k, engine=engine,
                                              session_id=session_id, history=history))

    def stream(self, question: str, *, k: int | None = None, engine: str | None = None,
               session_id: str | None = None, history: list[dict[str, Any]] | None = None
               ) -> Generator[Event, None, None]:
        """sources, token..., citations, done; or an error event (never an exception)."""
        try:
            yield from self.events(question, k=k, engine=engine, session_id=session_id,
                                   history=history)
        except Exception as e:
            yield _error_event(e)

    async def astream(self, question: str, *, k: int | None = None, engine: str | None = None,
                      session_id: str | None = None,
                      history: list[dict[str, Any]] | None = None) -> AsyncGenerator[Event, None]:
        """`stream` for event loops; closing or cancelling it closes the LLM's HTTP stream."""
        try:
            turn = await asyncio.to_thread(self._prepare, question, k=k, engine=engine,
                                           session_id=session_id, history=history)
            if turn.engine == "llm" and turn.history:
                with self._fallback(turn):
                    await self._acondense(turn)
            yield await asyncio.to_thread(self._retrieve, turn)
            if turn.engine == "llm" and not turn.refused:
                call = self._start_llm(turn)
                with self._fallback(turn):
                    async with aclosing(self.chat.astream_chat(**call)) as deltas:
                        async for delta in deltas:
                            if event := self._token(turn, delta):
                                yield event
                    self._count_llm(turn, call, "".join(turn.raw))
            if turn.engine != "llm" or turn.refused:
                for event in await asyncio.to_thread(lambda: list(self._local(turn))):
                    yield event
            for event in await asyncio.to_thread(lambda: list(self._finish(turn))):
                yield event
        except Exception as e:
            yield _error_event(e)

    # -- steps ---------------------------------------------------------------------
    def _prepare(self, question: str, *, k: int | None = None, engine: str | None = None,
                 session_id: str | None = None,
                 history: list[dict[str, Any]] | None = None) -> _Turn:
        question = (question or "").strip()
        if not question:
            raise InputError("the question is empty")
        k = self.settings.answer.k if k is None else k
        if not 1 <= k <= MAX_K:
            raise InputError(f"k must be between 1 and {MAX_K}, got {k}")
        resolved = self.resolve_engine(engine)
        if history is None and session_id:
            # Only the latest messages (settings.answer.history_messages): the extractive
            # condense uses the last answer and two questions, the llm prompts keep what fits
            # the window, and a turn's cost stays flat however long the session grows.
            history = session_history(self.sessions.recent(
                session_id, self.settings.answer.history_messages))
        turns = _check_history(history or [])
        if resolved == "llm" and turns:  # don't spend a condense call on an empty collection
            self._check_not_empty()
        return _Turn(question, k, resolved, turns, session_id)

    def _check_not_empty(self) -> None:
        if self.library.is_empty():
            raise CollectionError(f"the collection '{self.settings.collection}' is empty; "
                                  "run `paperchat ingest` first")

    def _events(self, turn: _Turn) -> Iterator[Event]:
        if turn.engine == "llm" and turn.history:
            with self._fallback(turn):
                self._condense(turn)
        yield self._retrieve(turn)
        if turn.engine == "llm" and not turn.refused:
            call = self._start_llm(turn)
            with self._fallback(turn):
                with closing(self.chat.stream_chat(**call)) as deltas:
                    for delta in deltas:
                        if event := self._token(turn, delta):
                            yield event
                self._count_llm(turn, call, "".join(turn.raw))
        if turn.engine != "llm" or turn.refused:
            yield from self._local(turn)
        yield from self._finish(turn)

    @contextmanager
    def _fallback(self, turn: _Turn) -> Iterator[None]:
        """Around an LLM request: if the endpoint fails, answer extractively (`_degrade`)."""
        try:
            yield
        except LLMUnavailable as e:
            self._degrade(turn, e)

    def _condense(self, turn: _Turn) -> None:
        t0, call = time.perf_counter(), self._condense_call(turn)
        self._set_standalone(turn, self.chat.complete(**call), call, t0)

    async def _acondense(self, turn: _Turn) -> None:
        t0, call = time.perf_counter(), self._condense_call(turn)
        self._set_standalone(turn, await self.chat.acomplete(**call), call, t0)

    def _condense_call(self, turn: _Turn) -> _LLMCall:
        messages = budget.condense_messages(turn.question, turn.history,
                                            max_tokens=CONDENSE_MAX_TOKENS,
                                            context_window=self.settings.llm.context_window)
        return _LLMCall(messages=messages, max_tokens=CONDENSE_MAX_TOKENS, usage={})

    def _set_standalone(self, turn: _Turn, text: str, call: _LLMCall, t0: float) -> None:
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        standalone = lines[0].removeprefix("Standalone question:").strip(" \"'") if lines \
            else ""
        turn.standalone = standalone or turn.question
        self._count_llm(turn, call, text)
        turn.timings["condense_ms"] = turn.since(t0)

    def _retrieve(self, turn: _Turn) -> Event:
        if turn.standalone is None:
            turn.standalone = followup.condense(turn.question, turn.history)
        t0 = time.perf_counter()
        response = self.library.search(turn.standalone, turn.k)
        if not response.results:  # checked here, not up front: it costs a store round trip
            self._check_not_empty()
        turn.timings["retrieval_ms"] = turn.since(t0)
        relevance = refusal.assess(turn.standalone, response,
                                   lexical=self.settings.retrieval.fusion != "dense")
        log.debug("relevance of %r: %s", turn.standalone, relevance)
        turn.refused = not relevance.relevant
        turn.hits = [] if turn.refused else response.results[:turn.k]
        turn.gen_started = time.perf_counter()
        return Event("sources", {"sources": [
            {"n": i, "paper_id": h.paper_id, "title": h.title, "snippet": h.snippet,
             "score": round(h.score, 6)} for i, h in enumerate(turn.hits, 1)]})

    def _start_llm(self, turn: _Turn) -> _LLMCall:
        """The answer request: the prompt fitted to the window, its sources numbered."""
        llm = self.settings.llm
        prompt = budget.build_answer_prompt(turn.question, turn.hits, turn.history,
                                            max_tokens=llm.max_tokens,
                                            context_window=llm.context_window)
        turn.pool, turn.renum = prompt.sources, Renumberer(len(prompt.sources))
        return _LLMCall(messages=prompt.messages, max_tokens=llm.max_tokens, usage={})

    def _count_llm(self, turn: _Turn, call: _LLMCall, reply: str) -> None:
        """Add a request's tokens: as the server reported them, else counted here."""
        usage = call["usage"]
        turn.prompt_tokens += usage.get("prompt_tokens") or budget.messages_tokens(
            call["messages"])
        turn.completion_tokens += usage.get("completion_tokens") or count_tokens(reply)

    def _degrade(self, turn: _Turn, error: LLMUnavailable) -> None:
        """Fall back to the extractive engine, unless disabled or text was already sent."""
        if not self.settings.llm.fallback_extractive or turn.parts:
            raise error
        log.warning("LLM failed, answering extractively: %s", error)
        turn.engine, turn.degraded = "extractive", True
        turn.notice = prompts.DEGRADED_NOTICE.format(reason=str(error))
        turn.renum, turn.raw = Renumberer(0), []

    def _local(self, turn: _Turn) -> Iterator[Event]:
        """Refusal or extractive answer, streamed piece by piece."""
        if turn.refused:
            pieces = [prompts.REFUSAL_TEXT]
        else:
            chosen = extractive.select(turn.standalone or turn.question, turn.hits,
                                       self.vectors, self.settings.answer.max_sentences)
            turn.pool, turn.renum = turn.hits, Renumberer(len(turn.hits))
            pieces = extractive.compose(chosen) if chosen else [prompts.NO_SENTENCES_TEXT]
            turn.prompt_tokens += count_tokens(turn.standalone or turn.question) + sum(
                count_tokens(h.abstract or h.snippet) for h in turn.hits)
        for piece in pieces:
            event = self._token(turn, piece)
            if event:
                yield event
        turn.completion_tokens += count_tokens("".join(pieces))

    def _token(self, turn: _Turn, delta: str) -> Event | None:
        if "first_token_ms" not in turn.timings:
            turn.timings["first_token_ms"] = turn.since(turn.started)
        turn.raw.append(delta)
        text = turn.renum.feed(delta)
        if not text:
            return None
        turn.parts.append(text)
        return Event("token", {"text": text})

    def _finish(self, turn: _Turn) -> Iterator[Event]:
        tail = turn.renum.finish()
        if tail:
            turn.parts.append(tail)
            yield Event("token", {"text": tail})
        turn.timings["generation_ms"] = turn.since(turn.gen_started)
        text = "".join(turn.parts)
        if turn.refused:
            sentences: list[dict[str, Any]] = [
                {"text": text, "citations": [], "support": None, "supported": True}]
            citations: list[Citation] = []
        else:
            cited = [turn.pool[n - 1] for n in turn.renum.order]
            sentences, citations = score_support(text, cited, self.vectors,
                                                 self.settings.answer.support_threshold)
        turn.timings["total_ms"] = turn.since(turn.started)
        usage = {"prompt_tokens": turn.prompt_tokens,
                 "completion_tokens": turn.completion_tokens,
                 "total_tokens": turn.prompt_tokens + turn.completion_tokens}
        standalone = turn.standalone if turn.standalone != turn.question else None
        turn.answer = answer = Answer(
            question=turn.question, answer=text, citations=citations, refused=turn.refused,
            engine=turn.engine, degraded=turn.degraded, usage=usage, timings=turn.timings,
            sentences=sentences, sources=turn.hits, notice=turn.notice,
            standalone_question=standalone, session_id=turn.session_id)
        if turn.session_id:
            self.sessions.append(turn.session_id, "user", turn.question)
            self.sessions.append(turn.session_id, "assistant", text,
                                 [c.to_json() for c in citations])
        yield Event("citations", {"citations": [c.to_json() for c in citations]})
        yield Event("done", answer.to_json())


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
        return Event("error", {"code": e.code, "message": str(e)})
    log.exception("unexpected error while answering")
    return Event("error", {"code": "internal_error",
                           "message": f"internal error ({type(e).__name__}); see the log"})
