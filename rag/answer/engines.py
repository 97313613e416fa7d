"""The answer engines behind one Protocol: `llm` (a chat model) and `extractive` (offline).

An engine condenses a follow-up into a standalone question and writes an answer from the
papers it is given, as a stream of raw text pieces citing them as [1]..[n]. Everything
around that (relevance, refusal, reasoning blocks, renumbering, support, the grounding
guard, sessions) is the pipeline's, the same for every engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rag.answer import budget, extractive, followup, prompts
from rag.answer.llm import CONDENSE_MAX_TOKENS, ChatModel
from rag.answer.reasoning import strip_reasoning
from rag.tokens import count_tokens

if TYPE_CHECKING:
    from rag.answer.vectors import SentenceVectors
    from rag.models import SearchHit
    from rag.settings import Settings

History = list[dict[str, Any]]
Usage = dict[str, int]  # prompt_tokens, completion_tokens: what a model spent; {} if none ran


@dataclass(frozen=True)
class Brief:
    """What an engine answers from."""

    question: str  # as asked
    standalone: str  # the condensed question retrieval used
    sources: list[SearchHit]  # the papers it may cite, in rank order
    history: History
    related: list[SearchHit] = field(default_factory=list)  # retrieved, never to be cited
    notes: tuple[str, ...] = ()  # said to the model: e.g. what the papers do not record
    fields: tuple[str, ...] = ()  # paper fields the question asks about and the papers carry


@dataclass
class Generation:
    """One engine call: what its markers number, its raw text, the tokens it spent."""

    sources: list[SearchHit]  # [n] in the text refers to sources[n - 1]
    pieces: AsyncGenerator[str, None]  # raw text; aclose() stops the model's stream
    usage: Usage = field(default_factory=dict)  # filled when the stream ends; {} = no model
    reasoning: bool = False  # the text may hold <think> blocks to strip


class AnswerEngine(Protocol):
    """One way to write an answer."""

    name: str  # "llm" | "extractive", as reported in Answer.engine
    quotes: bool  # True: the text quotes the sources (no grounding guard needed)

    async def condense(self, question: str, history: History) -> tuple[str, Usage]:
        """A standalone version of a follow-up question, and the tokens it cost."""
        ...

    def generate(self, brief: Brief) -> Generation:
        """Start an answer; nothing is requested until `pieces` is iterated."""
        ...


class ExtractiveEngine:
    """Query-focused sentence selection from the abstracts (rag.answer.extractive)."""

    name = "extractive"
    quotes = True

    def __init__(self, settings: Settings, vectors: SentenceVectors) -> None:
        self.settings, self.vectors = settings, vectors

    async def condense(self, question: str, history: History) -> tuple[str, Usage]:
        return followup.condense(question, history), {}

    def generate(self, brief: Brief) -> Generation:
        return Generation(brief.sources, self._pieces(brief))

    async def _pieces(self, brief: Brief) -> AsyncGenerator[str, None]:
        pieces = await asyncio.to_thread(self.compose, brief)
        for piece in pieces:
            yield piece

    def compose(self, brief: Brief) -> list[str]:
        """The answer's pieces: the lead, facts asked for, then one cited sentence each."""
        chosen = extractive.select(brief.standalone, brief.sources, self.vectors,
                                   self.settings.answer.max_sentences)
        if not chosen:
            return [prompts.NO_SENTENCES_TEXT]
        # Citable papers the selection quoted nothing from are shown as related too.
        quoted = len({c.source for c in chosen})
        pieces = extractive.compose(chosen, related=len(brief.related)
                                    + len(brief.sources) - quoted)
        facts = extractive.facts(brief.sources, brief.fields, brief.standalone)
        return [pieces[0], *facts, *pieces[1:]]


class LLMEngine:
    """A chat model over the OpenAI API (rag.answer.llm), prompted with numbered sources."""

    name = "llm"
    quotes = False

    def __init__(self, settings: Settings, chat: Callable[[], ChatModel]) -> None:
        self.settings = settings
        self._chat = chat  # built on first use: the openai SDK is a heavy import

    async def condense(self, question: str, history: History) -> tuple[str, Usage]:
        messages = budget.condense_messages(question, history,
                                            max_tokens=CONDENSE_MAX_TOKENS,
                                            context_window=self.settings.llm.context_window)
        usage: Usage = {}
        reply = await self._chat().acomplete(messages, max_tokens=CONDENSE_MAX_TOKENS,
                                             usage=usage)
        text = strip_reasoning(reply)
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        standalone = lines[0].removeprefix("Standalone question:").strip(" \"'") if lines \
            else ""
        return standalone or question, counted(usage, messages, reply)

    def generate(self, brief: Brief) -> Generation:
        llm = self.settings.llm
        prompt = budget.build_answer_prompt(brief.question, brief.sources, brief.history,
                                            max_tokens=llm.max_tokens,
                                            context_window=llm.context_window,
                                            notes=brief.notes, fields=brief.fields)
        generation = Generation(prompt.sources, _empty(), reasoning=True)
        generation.pieces = self._pieces(prompt.messages, generation)
        return generation

    async def _pieces(self, messages: budget.Messages, generation: Generation
                      ) -> AsyncGenerator[str, None]:
        usage: Usage = {}
        raw: list[str] = []
        stream = self._chat().astream_chat(messages, max_tokens=self.settings.llm.max_tokens,
                                           usage=usage)
        async with aclosing(stream) as deltas:
            async for delta in deltas:
                raw.append(delta)
                yield delta
        generation.usage = counted(usage, messages, "".join(raw))


def counted(usage: Usage, messages: budget.Messages, reply: str) -> Usage:
    """A request's tokens as the server reported them, else counted here."""
    return {"prompt_tokens": usage.get("prompt_tokens") or budget.messages_tokens(messages),
            "completion_tokens": usage.get("completion_tokens") or count_tokens(reply)}


async def _empty() -> AsyncGenerator[str, None]:
    return
    yield  # pragma: no cover - makes this an async generator
