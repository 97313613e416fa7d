"""One answer pipeline, async; every front end and every engine goes through it.

Per question: condense a follow-up (the engine's way) -> retrieve first-stage candidates ->
the relevance stage decides which papers may be cited, or refuses (no LLM call) -> asks the
papers cannot answer become a note (rag.answer.limits) -> the engine writes, its pieces
streamed as `token` events with reasoning blocks removed and markers renumbered -> support
scores -> the grounding guard (LLM answers) -> the turn is saved to the session.

`run` yields events and, last, the finished `Answer`; `Assistant` (rag.answer.service)
turns that into the public entry points. An LLM that fails before its first word is
replaced by the extractive engine (`degraded`); one that fails mid-answer is an error; an
answer the guard rejects, or a reasoning block found to have started before the reply, is
withdrawn with a `reset` event and followed by its replacement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from rag.answer import followup, guard, limits, prompts
from rag.answer.citations import Renumberer, score_support
from rag.answer.engines import AnswerEngine, Brief, History, Usage
from rag.answer.events import (
    CitationsEvent,
    Event,
    ResetEvent,
    Source,
    SourcesEvent,
    TokenEvent,
)
from rag.answer.models import Answer, Citation
from rag.answer.reasoning import ReasoningFilter
from rag.answer.text import content_terms
from rag.errors import EmptyCollection, LLMUnavailable

if TYPE_CHECKING:
    from rag.answer.searchable import Searchable
    from rag.answer.stages import Assessment, RelevanceStage
    from rag.answer.vectors import SentenceVectors
    from rag.models import SearchHit
    from rag.sessions import SessionStore
    from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One validated question."""

    question: str
    k: int
    engine: AnswerEngine
    history: History
    session_id: str | None


@dataclass(frozen=True)
class Found:
    """Retrieval's outcome for one question."""

    assessment: Assessment | None  # None: the notes are the whole answer
    limits: limits.Limits

    @property
    def refused(self) -> bool:
        return self.assessment is not None and self.assessment.refuse

    @property
    def answers(self) -> bool:
        """An engine writes the answer (not a refusal, not only notes)."""
        return self.assessment is not None and not self.assessment.refuse

    @property
    def sources(self) -> list[SearchHit]:
        a = self.assessment
        return a.citable + a.related if a is not None and self.answers else []


class Writer:
    """The answer text as streamed: optional notes first, then one engine's pieces with
    reasoning blocks removed and citation markers renumbered by first use."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = "\n\n".join(notes) + ("\n\n" if notes else "")
        self.restart([], reasoning=False)

    def restart(self, sources: list[SearchHit], *, reasoning: bool) -> None:
        """Start (again) on an engine's output; what it had sent before is dropped."""
        self.pool = sources  # what [n] in the engine's text refers to
        self.renum = Renumberer(len(sources))
        self.filter = ReasoningFilter() if reasoning else None
        self._restarts = 0
        self.parts = [self.notes] if self.notes else []  # the text since the last reset
        self.shown = False  # some of the engine's own text has been sent

    def opening(self) -> list[Event]:
        """The notes, sent before the engine starts."""
        return [TokenEvent(text=self.notes)] if self.notes else []

    def feed(self, piece: str) -> list[Event]:
        text = piece
        if self.filter is not None:
            text = self.filter.feed(piece)
            if self.filter.restarts != self._restarts:  # all sent so far was reasoning
                self._restarts = self.filter.restarts
                return [self.reset("the model's reasoning was shown as the answer"),
                        *self.opening(), *self._emit(text)]
        return self._emit(text)

    def finish(self) -> list[Event]:
        tail = self.filter.finish() if self.filter is not None else ""
        events = self._emit(tail) if tail else []
        return events + self._out(self.renum.finish())

    def reset(self, reason: str) -> Event:
        """Drop the engine's text (notes are re-sent by the caller)."""
        self.renum = Renumberer(self.renum.k)
        self.parts = [self.notes] if self.notes else []
        self.shown = False
        return ResetEvent(reason=reason)

    def _emit(self, text: str) -> list[Event]:
        return self._out(self.renum.feed(text)) if text else []

    def _out(self, text: str) -> list[Event]:
        if not text:
            return []
        self.parts.append(text)
        self.shown = True
        return [TokenEvent(text=text)]

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def cited(self) -> list[SearchHit]:
        return [self.pool[n - 1] for n in self.renum.order]


@dataclass
class _Clock:
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)

    def since(self, t: float) -> float:
        return (time.perf_counter() - t) * 1000

    def mark(self, name: str, t: float) -> None:
        self.timings[name] = self.since(t)


@dataclass
class _Outcome:
    """How the writing of one answer went: who wrote it, why not the engine asked for,
    what models spent, and the support of what was written."""

    engine: AnswerEngine
    notice: str | None = None  # why the answer is degraded
    usage: Usage = field(default_factory=dict)
    sentences: list[dict[str, Any]] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)


class Pipeline:
    """Answers one `Request` at a time per call to `run`; shared state is read-only."""

    def __init__(self, settings: Settings, library: Searchable, *,
                 engines: dict[str, AnswerEngine], relevance: RelevanceStage,
                 vectors: SentenceVectors, sessions: Callable[[], SessionStore]) -> None:
        self.settings = settings
        self.library = library
        self.engines = engines
        self.relevance = relevance
        self.vectors = vectors
        self.sessions = sessions

    @property
    def fallback(self) -> AnswerEngine:
        return self.engines["extractive"]

    def check_not_empty(self) -> None:
        if self.library.is_empty():
            raise EmptyCollection(self.settings.collection,
                                  default=self.settings.is_default_collection)

    async def run(self, req: Request) -> AsyncGenerator[Event | Answer, None]:
        """Events of one answer, then the `Answer` itself."""
        clock, out = _Clock(), _Outcome(req.engine)
        standalone = await self._condense(req, out, clock)
        t0 = time.perf_counter()
        found = await asyncio.to_thread(self._retrieve, standalone, req.k)
        clock.mark("retrieval_ms", t0)
        yield SourcesEvent(sources=[Source.of(i, h) for i, h in enumerate(found.sources, 1)])
        t0 = time.perf_counter()
        writer = Writer(found.limits.notes if found.answers else [])
        async with aclosing(self._compose(req, standalone, found, writer, out, clock)) as events:
            async for event in events:
                yield event
        clock.mark("generation_ms", t0)
        clock.timings["total_ms"] = clock.since(clock.started)
        usage = out.usage
        if usage:
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        answer = Answer(
            question=req.question, answer=writer.text, citations=out.citations,
            refused=found.refused, engine=out.engine.name, degraded=out.notice is not None,
            usage=usage, timings=clock.timings, sentences=out.sentences, sources=found.sources,
            notice=out.notice, standalone_question=standalone if standalone != req.question
            else None, session_id=req.session_id)
        if req.session_id:
            await asyncio.to_thread(self._save, req.session_id, answer)
        yield CitationsEvent(citations=out.citations)
        yield answer

    async def _condense(self, req: Request, out: _Outcome, clock: _Clock) -> str:
        """The standalone question (the question itself when there is no history)."""
        if not req.history or (limits.only_asks(req.question)
                               and not followup.refers_back(req.question)):
            # "How many papers are there?" stands alone: a short follow-up would otherwise
            # borrow the conversation's subject.
            return req.question
        t0 = time.perf_counter()
        try:
            standalone, spent = await out.engine.condense(req.question, req.history)
        except LLMUnavailable as e:
            self._degrade(e, out)
            standalone, spent = await out.engine.condense(req.question, req.history)
        _add(out.usage, spent)
        clock.mark("condense_ms", t0)
        return standalone

    async def _compose(self, req: Request, standalone: str, found: Found, writer: Writer,
                       out: _Outcome, clock: _Clock) -> AsyncGenerator[Event, None]:
        """The answer's text as events: a fixed text, or an engine's answer with its
        fallbacks (the LLM failing before its first word; the grounding guard)."""
        if not found.answers:  # the refusal, or only notes
            text = prompts.REFUSAL_TEXT if found.refused else "\n\n".join(found.limits.notes)
            for event in writer.feed(text) + writer.finish():
                yield event
            await self._score(writer, found.refused, out)
            return
        assert found.assessment is not None
        lim = found.limits
        brief = Brief(req.question, lim.query if lim.answerable else standalone,
                      found.assessment.citable, req.history, found.assessment.related,
                      lim.model_notes, lim.fields)
        for event in writer.opening():
            yield event
        try:
            async with aclosing(self._write(brief, writer, out, clock)) as events:
                async for event in events:
                    yield event
        except LLMUnavailable as e:
            if writer.shown:  # half an answer was sent: an error, not a mixed answer
                raise
            self._degrade(e, out)
            async with aclosing(self._write(brief, writer, out, clock)) as events:
                async for event in events:
                    yield event
        await self._score(writer, False, out, brief.standalone)
        verdict = self._guard(out)
        if not verdict.ok:
            log.warning("grounding guard withdrew an LLM answer: it %s", verdict.reason)
            out.engine = self.fallback
            out.notice = prompts.GUARD_NOTICE.format(reason=verdict.reason)
            for event in [writer.reset(out.notice), *writer.opening()]:
                yield event
            async with aclosing(self._write(brief, writer, out, clock)) as events:
                async for event in events:
                    yield event
            await self._score(writer, False, out, brief.standalone)

    async def _write(self, brief: Brief, writer: Writer, out: _Outcome, clock: _Clock
                     ) -> AsyncGenerator[Event, None]:
        """Stream `out.engine`'s answer; closing this closes the engine's (HTTP) stream."""
        generation = out.engine.generate(brief)
        writer.restart(generation.sources, reasoning=generation.reasoning)
        async with aclosing(generation.pieces) as pieces:
            async for piece in pieces:
                clock.timings.setdefault("first_token_ms", clock.since(clock.started))
                for event in writer.feed(piece):
                    yield event
        for event in writer.finish():
            yield event
        _add(out.usage, generation.usage)  # what a model spent, once its stream has ended

    def _guard(self, out: _Outcome) -> guard.Verdict:
        if out.engine.quotes or not self.settings.answer.guard:
            return guard.Verdict(True)
        return guard.check(out.sentences, len(out.citations),
                           max_unsupported=self.settings.answer.guard_max_unsupported)

    def _degrade(self, error: LLMUnavailable, out: _Outcome) -> None:
        """Go on with the extractive engine, unless the fallback is turned off."""
        if not self.settings.llm.fallback_extractive:
            raise error
        log.warning("LLM failed, answering extractively: %s", error)
        out.engine = self.fallback
        out.notice = prompts.DEGRADED_NOTICE.format(reason=str(error))

    def _retrieve(self, standalone: str, k: int) -> Found:
        """First-stage search, the relevance stage's verdict, and the question's limits."""
        query = limits.strip_asks(standalone) if limits.asks(standalone) else standalone
        searchable = bool(content_terms(query))
        if not searchable:  # only an ask ("which is the most recent?"): search it all
            query = standalone
        response = self.library.search(query, self.relevance.depth(k))
        if not response.results:  # checked here, not up front: it costs a store round trip
            self.check_not_empty()
        assessment = self.relevance.assess(query, response, k)
        papers = response.results[:k] if assessment.refuse else assessment.citable
        counts = any(f.name == "count" for f, _ in limits.asks(standalone))
        found = limits.limits(standalone, papers, self.library.count() if counts else None)
        if not searchable and found.missing and not found.fields:
            return Found(None, found)  # the note is the whole answer
        return Found(assessment, found)

    async def _score(self, writer: Writer, refused: bool, out: _Outcome,
                     question: str | None = None) -> None:
        """Per-sentence support and the citations of the text written so far (for a quoting
        engine, support is each sentence's relevance to `question`)."""
        if refused:
            out.sentences = [{"text": writer.text, "citations": [], "support": None,
                              "supported": True}]
            out.citations = []
            return
        out.sentences, out.citations = await asyncio.to_thread(
            partial(score_support, question=question, engine=out.engine.name),
            writer.text, writer.cited, self.vectors, self.settings.answer.support_threshold)

    def _save(self, session_id: str, answer: Answer) -> None:
        store = self.sessions()
        store.append(session_id, "user", answer.question)
        store.append(session_id, "assistant", answer.answer,
                     [c.model_dump(mode="json") for c in answer.citations])


def _add(total: Usage, spent: Usage) -> None:
    for key, value in spent.items():
        total[key] = total.get(key, 0) + value
