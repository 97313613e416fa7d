"""A scripted `ChatClient` for Pilot and snapshot tests: no engine, no network, no clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator
from typing import Any

from rag.answer.events import CitationsEvent, DoneEvent, Event, SourcesEvent, TokenEvent
from rag.errors import LLMUnavailable, NotFoundError, PaperchatError
from rag.models import Paper
from rag.sessions import Message, Session, SessionInfo
from tui.client import ClientStatus

PAPERS = {
    "vit-seg": Paper(id="vit-seg", title="Vision Transformers for Dense Segmentation",
                     abstract="We adapt vision transformers to dense prediction. Masked "
                     "pretraining on unlabeled images improves segmentation by 3.1 mIoU.",
                     authors=("Ada Lovelace", "Alan Turing"), year=2023,
                     url="https://example.org/vit"),
    "gnn-pre": Paper(id="gnn-pre", title="Strategies for Pre-training Graph Neural Networks",
                     abstract="Node-level and graph-level self-supervised pretraining avoids "
                     "negative transfer on molecular property prediction."),
    "speech": Paper(id="speech", title="Adapters for Speech Recognition",
                    abstract="Small adapter layers let one pretrained speech model serve many "
                    "languages."),
}
ANSWER = ("Masked pretraining helps dense prediction: vision transformers pretrained on "
          "unlabeled images segment better [1]. For graphs, combining node-level and "
          "graph-level objectives avoids negative transfer [2]. Pretraining always "
          "doubles accuracy.")


def sources_event() -> Event:
    return SourcesEvent.model_validate({"sources": [
        {"n": i, "paper_id": p.id, "title": p.title, "snippet": p.abstract[:70],
         "score": round(1 - i / 10, 3)} for i, p in enumerate(PAPERS.values(), 1)]})


def citations() -> list[dict[str, Any]]:
    return [
        {"n": 1, "paper_id": "vit-seg", "title": PAPERS["vit-seg"].title,
         "snippet": PAPERS["vit-seg"].abstract[:70], "support": 0.81},
        {"n": 2, "paper_id": "gnn-pre", "title": PAPERS["gnn-pre"].title,
         "snippet": PAPERS["gnn-pre"].abstract[:70], "support": 0.64},
    ]


def script(answer: str = ANSWER, chunk: int = 12) -> list[Event]:
    """sources, tokens of `chunk` characters, citations, done."""
    tokens: list[Event] = [TokenEvent(text=answer[i:i + chunk])
              for i in range(0, len(answer), chunk)]
    done = {"question": "q", "answer": answer, "citations": citations(), "refused": False,
            "engine": "extractive", "degraded": False,
            "usage": {"prompt_tokens": 300, "completion_tokens": 42, "total_tokens": 342},
            "timings": {"total_ms": 1234.0}, "unsupported": ["Pretraining always doubles "
                                                             "accuracy."]}
    return [sources_event(), *tokens, CitationsEvent.model_validate({"citations": citations()}),
            DoneEvent.model_validate(done)]


class FakeClient:
    """Plays `events` for every question; sessions live in memory.

    `delay` pauses between events; `gate` (an asyncio.Event) makes the stream wait after
    event `gate_after` (the first token by default) until it is set, so cancellation
    mid-stream is observable.
    """

    where = "in-process"

    def __init__(self, events: list[Event] | None = None, *, delay: float = 0.0,
                 gate: asyncio.Event | None = None, fail_start: Exception | None = None,
                 fail_ask: PaperchatError | None = None, papers: int = 119,
                 gate_after: int = 1, start_gate: asyncio.Event | None = None) -> None:
        self.events = events if events is not None else script()
        self.delay = delay
        self.gate = gate
        self.fail_start = fail_start
        self.fail_ask = fail_ask
        self.papers = papers
        self.gate_after = gate_after
        self.start_gate = start_gate  # start() waits for it: the engine is still loading
        self.sessions: dict[str, Session] = {}
        self.asked: list[tuple[str, str | None]] = []
        self.closed_streams = 0
        self.finished_streams = 0
        self._ids = itertools.count(1)

    async def start(self, progress: Any = None) -> ClientStatus:
        if self.start_gate is not None:
            await self.start_gate.wait()
        if self.fail_start:
            raise self.fail_start
        return ClientStatus("extractive", "fake-hashing-384", self.papers, self.where)

    async def astream(self, question: str, *, session_id: str | None = None
                      ) -> AsyncGenerator[Event, None]:
        self.asked.append((question, session_id))
        if self.fail_ask:
            raise self.fail_ask
        try:
            for i, event in enumerate(self.events):
                if self.delay:
                    await asyncio.sleep(self.delay)
                if event.type == "done" and session_id:  # saved before `done`, as the service does
                    self._save(session_id, question, event.data)
                yield event
                if i == self.gate_after and self.gate is not None:
                    await self.gate.wait()
            self.finished_streams += 1
        finally:
            self.closed_streams += 1

    def _save(self, session_id: str, question: str, done: dict[str, Any]) -> None:
        session = self.sessions[session_id]
        session.messages += [Message(role="user", content=question),
                             Message(role="assistant", content=done["answer"],
                                     citations=done["citations"])]
        session.message_count = len(session.messages)
        session.title = session.title or question

    async def create_session(self, title: str | None = None) -> SessionInfo:
        n = next(self._ids)
        created = f"2024-01-0{n}T10:00:00"
        info = SessionInfo(id=f"s{n:03d}", title=title, created_at=created, updated_at=created)
        self.sessions[info.id] = Session(**dict(info))
        return info

    async def list_sessions(self) -> list[SessionInfo]:
        return [s.info for s in reversed(self.sessions.values())]

    async def get_session(self, session_id: str) -> Session:
        if session_id not in self.sessions:
            raise NotFoundError(f"no chat session with id {session_id!r}")
        return self.sessions[session_id]

    async def rename_session(self, session_id: str, title: str) -> None:
        session = await self.get_session(session_id)
        session.title = title
        self.sessions[session_id] = self.sessions.pop(session_id)  # updated: now the newest

    async def delete_session(self, session_id: str) -> None:
        await self.get_session(session_id)
        del self.sessions[session_id]

    async def get_paper(self, paper_id: str) -> Paper | None:
        return PAPERS.get(paper_id)

    async def aclose(self) -> None:
        return None


LLM_DOWN = LLMUnavailable("the LLM endpoint timed out after 60 s")
