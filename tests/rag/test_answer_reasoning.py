"""Reasoning blocks (<think>...</think>, reasoning_content) never reach the answer: not shown,
not stored, not parsed for citations; whole replies and replies split across deltas."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rag.answer.reasoning import ReasoningFilter, strip_reasoning
from rag.answer.service import Assistant
from tests.utils.fake_openai import FakeOpenAI

QUESTION = "Which papers pretrain vision transformers, and on what images?"
THINKING = ("<think>The user asks about ViTs. Source [3] is about proteins, maybe cite [3]?\n"
            "No: [1] and [2] fit.</think>\n\n")
ANSWER = "Masked autoencoders pretrain ViTs on ImageNet [1]. CT scans are used too [2]."


def _feed_in_pieces(text: str, size: int) -> tuple[str, int]:
    f = ReasoningFilter()
    out = "".join(f.feed(text[i:i + size]) for i in range(0, len(text), size)) + f.finish()
    return out, f.restarts


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000])
def test_filter_strips_blocks_split_anywhere(size: int) -> None:
    out, restarts = _feed_in_pieces(THINKING + ANSWER, size)
    assert out == ANSWER and restarts == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("<THINK>upper case</Think>Answer [1].", "Answer [1]."),
    ("<thinking>long form</thinking> Answer.", "Answer."),
    ("Intro. <think>aside</think>Rest.", "Intro. Rest."),
    ("<think>ran out of tokens while thinking", ""),  # an unclosed block is all reasoning
    ("a < b and c <thin ice> d", "a < b and c <thin ice> d"),  # not tags: kept as they are
    ("Ends with a bracket <", "Ends with a bracket <"),
])
def test_strip_reasoning_whole(text: str, expected: str) -> None:
    assert strip_reasoning(text) == expected
    assert _feed_in_pieces(text, 1)[0] == expected


def test_closing_tag_without_opening_restarts() -> None:
    # Templates that open <think> in the prompt: the reply starts inside the block.
    text = "The user wants [3] maybe.</think>\n\nAnswer [1]."
    f = ReasoningFilter()
    shown = f.feed(text[:20])
    assert shown == text[:20] and f.restarts == 0  # cannot be known yet
    rest = f.feed(text[20:]) + f.finish()
    assert f.restarts == 1 and rest == "Answer [1]."
    assert strip_reasoning(text) == "Answer [1]."


def test_think_blocks_are_not_shown_stored_or_cited(
        make_assistant: Callable[..., Assistant], fake_openai: FakeOpenAI) -> None:
    fake_openai.chunk_chars = 3  # tags arrive split across deltas ("<th", "ink", ">Th"...)
    fake_openai.queue(THINKING + ANSWER)
    assistant = make_assistant()
    session = assistant.sessions.create()
    events = list(assistant.stream(QUESTION, session_id=session.id))
    tokens = "".join(e.data["text"] for e in events if e.type == "token")
    done = events[-1].data
    assert [e.type for e in events if e.type != "token"] == ["sources", "citations", "done"]
    assert tokens == done["answer"] and "think" not in tokens.lower()
    assert done["answer"].startswith("Masked autoencoders")
    # [3] was only "cited" inside the reasoning: it is not a citation of the answer.
    sources = [s["paper_id"] for s in events[0].data["sources"]]
    assert [c["paper_id"] for c in done["citations"]] == sources[:2]
    stored = assistant.sessions.get(session.id).messages[-1]
    assert stored.content == done["answer"] and "think" not in stored.content


def test_reasoning_content_field_is_never_shown(make_assistant: Callable[..., Assistant],
                                                fake_openai: FakeOpenAI) -> None:
    fake_openai.reasoning = "Hidden chain of thought citing [4] and [5]."
    fake_openai.queue(ANSWER)
    answer = make_assistant().ask(QUESTION)
    assert answer.answer == ANSWER
    assert "Hidden" not in answer.answer and len(answer.citations) == 2
    # The non-streamed condense call of a follow-up ignores it too.
    fake_openai.queue("Which images are vision transformers pretrained on?", ANSWER)
    history = [{"role": "user", "content": "Tell me about vision transformers."},
               {"role": "assistant", "content": "They are pretrained [1]."}]
    followup = make_assistant().ask("which images?", history=history)
    assert followup.standalone_question == "Which images are vision transformers pretrained on?"


def test_condense_reply_with_think_block(make_assistant: Callable[..., Assistant],
                                         fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("<think>they mean MAE</think>What masking ratio do masked autoencoders "
                      "use?", "75 percent [1].")
    history = [{"role": "user", "content": "Tell me about masked autoencoders."},
               {"role": "assistant", "content": "They mask patches [1]."}]
    answer = make_assistant().ask("which ratio?", history=history)
    assert answer.standalone_question == "What masking ratio do masked autoencoders use?"


def test_orphan_closing_tag_resets_the_streamed_text(
        make_assistant: Callable[..., Assistant], fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("Okay, the user asks about ViTs, [3] is off topic.</think>" + ANSWER)
    events = list(make_assistant().stream(QUESTION))
    types = [e.type for e in events]
    assert "reset" in types and types[-2:] == ["citations", "done"]
    before = events[:types.index("reset")]
    after = events[types.index("reset") + 1:]
    assert any(e.type == "token" for e in before)  # it was shown, then withdrawn
    text = "".join(e.data["text"] for e in after if e.type == "token")
    assert text == events[-1].data["answer"] == ANSWER
    assert len(events[-1].data["citations"]) == 2  # [3] in the reasoning counted nowhere
