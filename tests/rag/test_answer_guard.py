"""The grounding guard: an LLM answer that cites nothing valid, is mostly unsupported or empty
is withdrawn (a `reset` event) and replaced by the extractive answer, degraded, with a note."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from rag.answer import guard
from rag.answer.events import Event
from rag.answer.service import Assistant
from rag.settings import Settings
from tests.utils.fake_openai import FakeOpenAI

QUESTION = "Which papers pretrain vision transformers, and on what images?"


def quoting_reply(body: dict[str, Any]) -> str:
    """A grounded answer: the first sentence of sources [1] and [2], each cited."""
    prompt = body["messages"][-1]["content"]
    texts = re.findall(r"^\[(\d)\] Title: .*\n(.+?\.)(?: |\n)", prompt, re.MULTILINE)
    return " ".join(f"{text[:-1]} [{n}]." for n, text in texts[:2])


def _split(events: list[Event]) -> tuple[list[Event], list[Event]]:
    """(events before the reset, events after it)."""
    types = [e.type for e in events]
    assert types.count("reset") == 1, types
    i = types.index("reset")
    return events[:i], events[i + 1:]


def _guarded(make_assistant: Callable[..., Assistant], **overrides: Any) -> Assistant:
    return make_assistant(answer__guard=True, **overrides)


def test_the_guard_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERCHAT_ANSWER_GUARD")  # tests/conftest.py turns it off
    answer = Settings().answer
    assert answer.guard is True and answer.guard_max_unsupported == 0.5


@pytest.mark.parametrize(("reply", "reason"), [
    ("Vision transformers are pretrained on many kinds of images.", "cited none"),
    ("Bananas ripen faster next to apples [1]. Walnuts add crunch to bread [2]. "
     "Ovens should be preheated [1].", "not supported by the papers it cited (3 of 3"),
    ("<think>I am not sure what to say about this at all.</think>", "was empty"),
    ("Vision transformers are pretrained on images [9].", "cited none"),  # no such source
])
def test_withdrawn_answers_become_extractive(make_assistant: Callable[..., Assistant],
                                             fake_openai: FakeOpenAI, reply: str,
                                             reason: str) -> None:
    fake_openai.queue(reply)
    events = list(_guarded(make_assistant).stream(QUESTION))
    assert events[0].type == "sources" and [e.type for e in events[-2:]] == \
        ["citations", "done"]
    done = events[-1].data
    assert done["degraded"] is True and done["engine"] == "extractive"
    assert reason in done["notice"] and "extractive answer" in done["notice"]
    before, after = _split(events)
    reset = events[len(before)]
    assert reset.data["reason"] == done["notice"]
    text = "".join(e.data["text"] for e in after if e.type == "token")
    assert text == done["answer"] and done["citations"]
    assert done["answer"].startswith(("1 paper", "2 papers", "3 papers", "4 papers", "5 papers"))
    assert done["usage"]["completion_tokens"] > 0  # the model did run; its tokens count
    assert len(fake_openai.chat_requests) == 1


def test_grounded_answer_is_kept(make_assistant: Callable[..., Assistant],
                                 fake_openai: FakeOpenAI) -> None:
    fake_openai.queue(quoting_reply)
    answer = _guarded(make_assistant).ask(QUESTION)
    assert answer.engine == "llm" and not answer.degraded and answer.notice is None
    assert len(answer.citations) == 2 and not answer.unsupported
    events = list(_guarded(make_assistant).stream(QUESTION))  # default reply: ungrounded
    assert "reset" in [e.type for e in events]


def test_the_models_own_refusal_is_kept(make_assistant: Callable[..., Assistant],
                                        fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("The papers in this collection do not answer this question.")
    answer = _guarded(make_assistant).ask(QUESTION)
    assert answer.engine == "llm" and not answer.degraded
    assert answer.answer == "The papers in this collection do not answer this question."


def test_guard_off_returns_the_answer_as_it_is(make_assistant: Callable[..., Assistant],
                                               fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("Vision transformers are pretrained on many kinds of images.")
    answer = make_assistant(answer__guard=False).ask(QUESTION)
    assert answer.engine == "llm" and not answer.degraded and answer.citations == []


def test_the_bar_is_configurable(make_assistant: Callable[..., Assistant],
                                 fake_openai: FakeOpenAI) -> None:
    reply = "Bananas ripen faster next to apples [1]. Walnuts add crunch to bread [2]."
    fake_openai.queue(reply)
    lenient = _guarded(make_assistant, answer__guard_max_unsupported=1.0).ask(QUESTION)
    assert lenient.engine == "llm" and len(lenient.unsupported) == 2


def test_saved_session_holds_the_replacement(make_assistant: Callable[..., Assistant],
                                             fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("Vision transformers are pretrained on many kinds of images.")
    assistant = _guarded(make_assistant)
    session = assistant.sessions.create()
    answer = assistant.ask(QUESTION, session_id=session.id)
    stored = assistant.sessions.get(session.id).messages[-1]
    assert answer.degraded and stored.content == answer.answer
    assert [c["paper_id"] for c in stored.citations] == [c.paper_id for c in answer.citations]


async def test_astream_withdraws_too(make_assistant: Callable[..., Assistant],
                                     fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("Vision transformers are pretrained on many kinds of images.")
    events = [e async for e in _guarded(make_assistant).astream(QUESTION)]
    _, after = _split(events)
    assert events[-1].data["degraded"] is True
    assert "".join(e.data["text"] for e in after if e.type == "token") == \
        events[-1].data["answer"]


def _sentence(cited: bool, supported: bool) -> dict[str, Any]:
    return {"text": "x", "citations": [1] if cited else [], "support": 0.9 if supported else 0.1,
            "supported": supported}


@pytest.mark.parametrize(("sentences", "cited", "ok"), [
    ([_sentence(True, True), _sentence(True, False)], 1, True),  # half: not "mostly"
    ([_sentence(True, True), _sentence(True, False), _sentence(True, False)], 1, False),
    ([_sentence(False, True), _sentence(True, True)], 1, True),  # a lead-in is no claim
    ([_sentence(False, True)], 0, True),  # only statements about the sources
    ([_sentence(False, False)], 0, False),  # claims, no citation
    ([], 0, False),
])
def test_check_bounds(sentences: list[dict[str, Any]], cited: int, ok: bool) -> None:
    assert guard.check(sentences, cited, max_unsupported=0.5).ok is ok
