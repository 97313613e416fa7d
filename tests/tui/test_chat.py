"""Asking, streaming, cancelling and failing, with a scripted client."""

from __future__ import annotations

import asyncio

from rag.answer.events import CitationsEvent, DoneEvent, ErrorEvent, TokenEvent
from tests.tui.conftest import SIZE, ask, chat, ready, toasts, wait_for
from tests.tui.fakes import ANSWER, LLM_DOWN, FakeClient, script
from tui.widgets.answer_view import AnswerView
from tui.widgets.user_message import UserMessage


def note_text(view: AnswerView) -> str:
    return str(view.query_one(".answer-note").render())


async def test_question_gets_streamed_answer_and_numbered_sources(make_app) -> None:
    gate = asyncio.Event()
    client = FakeClient(gate=gate)
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "Does masked pretraining help segmentation?", wait=False)
        # Mid-stream: the first token is on screen, the retrieved papers are listed, the
        # status bar spins, and the prompt is already empty for the next question.
        view = screen.conversation.answers[0]
        await wait_for(pilot, lambda: view.markdown.source == ANSWER[:12])
        assert screen.status_bar.busy
        assert next(i.source["title"] for i in screen.sources.items).startswith("Vision")
        assert screen.prompt.text == ""
        gate.set()
        await wait_for(pilot, lambda: not screen.answering)
        await pilot.pause()

        assert [m.text for m in screen.query(UserMessage)] == [
            "Does masked pretraining help segmentation?"]
        assert view.markdown.source == ANSWER
        assert "[1]" in view.markdown.source and "[2]" in view.markdown.source
        cited = [i for i in screen.sources.items if i.cited]
        assert [(i.source["n"], i.paper_id) for i in cited] == [(1, "vit-seg"), (2, "gnn-pre")]
        assert "support 0.81" in str(cited[0].render())
        assert [i.paper_id for i in screen.sources.items if not i.cited] == ["speech"]
        flagged = str(screen.sources.query_one(".unsupported").render())
        assert "Pretraining always doubles accuracy." in flagged
        assert "1 sentence weakly supported" in note_text(view)
        assert not screen.status_bar.busy
        assert screen.status_bar.last_text == "last answer 1.2 s"  # extractive: no tokens
        assert screen.status_bar.engine_text == "extractive · fake-hashing-384 · 119 papers"
        assert client.asked == [("Does masked pretraining help segmentation?", "s001")]


async def test_markers_stay_visible_in_the_rendered_answer(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "q")
        view = screen.conversation.answers[0]
        rendered = " ".join(str(line.text) for line in
                            view.markdown.query("MarkdownParagraph").first().render_lines(
                                view.markdown.region.reset_offset))
        assert "[1]" in rendered and "[2]" in rendered


async def test_escape_cancels_mid_stream_and_gives_the_prompt_back(make_app) -> None:
    gate = asyncio.Event()  # never set: the stream blocks after its first token
    client = FakeClient(gate=gate)
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "a slow question", wait=False)
        view = screen.conversation.answers[0]
        await wait_for(pilot, lambda: view.markdown.source != "")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.answering)
        await pilot.pause()
        assert client.closed_streams == 1 and client.finished_streams == 0
        assert view.record.cancelled
        assert "cancelled" in note_text(view)
        assert screen.prompt.text == "a slow question"
        assert screen.prompt.has_focus and not screen.prompt.disabled
        assert not screen.status_bar.busy
        assert client.sessions == {}  # nothing was saved: no empty session is left behind
        # The next question works normally.
        gate.set()
        screen.prompt.set_text("")
        await ask(pilot, "again")
        assert screen.conversation.answers[-1].record.done


async def test_llm_failure_is_a_toast_and_an_inline_error_with_the_prompt_kept(make_app) -> None:
    app = make_app(FakeClient(fail_ask=LLM_DOWN))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "what is new?")
        view = screen.conversation.answers[0]
        assert "timed out" in note_text(view)
        assert any("timed out" in t for t in toasts(app, "error"))
        assert screen.prompt.text == "what is new?"
        assert screen.prompt.has_focus and not screen.prompt.disabled
        assert "stopped before any papers were retrieved" in str(
            screen.sources.query_one(".hint").render())
        assert app.is_running


async def test_an_llm_fallback_answer_is_shown_with_a_warning(make_app) -> None:
    notice = ("could not connect to the LLM endpoint http://127.0.0.1:9/v1. This is an "
              "extractive answer built from the retrieved abstracts instead.")
    events = script()
    events[-1] = events[-1].model_copy(update={"degraded": True, "notice": notice})
    app = make_app(FakeClient(events))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "q")
        view = screen.conversation.answers[0]
        assert view.record.done and view.markdown.source == ANSWER
        assert "⚠ could not connect to the LLM endpoint" in note_text(view)
        assert any("could not connect" in t for t in toasts(app, "warning"))
        assert screen.prompt.text == ""  # answered: the question is not handed back


async def test_error_event_mid_stream_keeps_the_partial_answer(make_app) -> None:
    events = [*script()[:3], ErrorEvent(code="llm_unavailable",
                                        message="the LLM endpoint returned 502")]
    app = make_app(FakeClient(events))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "q")
        view = screen.conversation.answers[0]
        assert view.markdown.source == ANSWER[:24]
        assert "502" in note_text(view)
        assert any("502" in t for t in toasts(app, "error"))
        assert screen.prompt.text == "q"


async def test_enter_while_answering_keeps_the_new_draft(make_app) -> None:
    gate = asyncio.Event()
    client = FakeClient(gate=gate)
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "first", wait=False)
        await pilot.press(*"second")
        await pilot.press("enter")
        assert screen.prompt.text == "second"
        assert any("esc cancels" in t for t in toasts(app, "warning"))
        gate.set()
        await wait_for(pilot, lambda: not screen.answering)
        assert [q for q, _ in client.asked] == ["first"]


async def test_enter_sends_and_ctrl_j_or_shift_enter_break_the_line(make_app) -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c")
        assert screen.prompt.text == "a\nb\nc"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(client.asked) and not screen.answering)
        assert client.asked[0][0] == "a\nb\nc"


async def test_up_and_down_recall_earlier_questions(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "first question")
        await ask(pilot, "second question")
        await pilot.press(*"draft")
        await pilot.press("up")
        assert screen.prompt.text == "second question"
        await pilot.press("up")
        assert screen.prompt.text == "first question"
        await pilot.press("down", "down")
        assert screen.prompt.text == "draft"


async def test_load_failure_is_reported_and_a_question_fails_cleanly(make_app) -> None:
    from rag.errors import EmbedderError

    app = make_app(FakeClient(fail_start=EmbedderError("cannot load the embedding model")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "anything?")
        assert screen.status_bar.engine_text.startswith("not ready: cannot load")
        assert len([t for t in toasts(app, "error") if "embedding model" in t]) == 2
        assert screen.prompt.text == "anything?"
        assert app.is_running


async def test_a_question_sent_while_loading_is_kept_until_the_engine_is_ready(make_app
                                                                                ) -> None:
    loaded = asyncio.Event()
    client = FakeClient(start_gate=loaded)
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        await wait_for(pilot, lambda: screen.status_bar.busy)  # first paint, then loading
        assert "loading" in screen.status_bar.activity
        await pilot.press(*"early question", "enter")
        assert any("Still loading" in t for t in toasts(app, "warning"))
        assert screen.prompt.text == "early question" and client.asked == []
        loaded.set()
        await ready(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(client.asked) and not screen.answering)
        assert client.asked[0][0] == "early question"


async def test_an_unexpected_load_failure_is_reported_not_a_crash(make_app) -> None:
    app = make_app(FakeClient(fail_start=RuntimeError("database disk image is malformed")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert "malformed" in screen.status_bar.engine_text
        assert any("malformed" in t for t in toasts(app, "error"))
        assert app.is_running and not screen.status_bar.busy


async def test_selecting_a_source_expands_its_abstract(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "q")
        item = screen.sources.items[0]
        assert "unlabeled images improves segmentation" not in str(item.render())
        item.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: item.abstract is not None)
        await pilot.pause()
        assert "improves segmentation by 3.1 mIoU" in str(item.render())
        await pilot.press("enter")
        assert "3.1 mIoU" not in str(item.render())


async def test_clicking_an_earlier_answer_shows_its_sources(make_app) -> None:
    other = [*script()[:1], TokenEvent(text="Only speech [1]."),
             CitationsEvent.model_validate({"citations": [
                 {"n": 1, "paper_id": "speech", "title": "Adapters for Speech Recognition",
                  "snippet": "s", "support": 0.9}]}),
             DoneEvent.model_validate({"question": "second", "answer": "Only speech [1].",
                                       "citations": [
                 {"n": 1, "paper_id": "speech", "title": "Adapters for Speech Recognition",
                  "snippet": "s", "support": 0.9}]})]
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "first")
        client.events = other
        await ask(pilot, "second")
        assert [i.paper_id for i in screen.sources.items if i.cited] == ["speech"]
        first = screen.conversation.answers[0]
        first.scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click(first)
        await pilot.pause()
        assert [i.paper_id for i in screen.sources.items if i.cited] == ["vit-seg", "gnn-pre"]
        assert first.has_class("-selected")


async def test_quitting_mid_answer_exits_cleanly(make_app) -> None:
    client = FakeClient(gate=asyncio.Event())  # blocks after the first token
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "slow", wait=False)
        await wait_for(pilot, lambda: screen.conversation.answers[0].markdown.source != "")
        await pilot.press("ctrl+q")
    # run_test re-raises a worker failure here; leaving the block is the assertion.
    assert app.return_code == 0
    assert client.closed_streams == 1


async def test_an_answer_ending_while_the_app_closes_is_not_an_error(make_app) -> None:
    gate = asyncio.Event()
    app = make_app(FakeClient(gate=gate))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "q", wait=False)
        await wait_for(pilot, lambda: screen.conversation.answers[0].markdown.source != "")
        record = screen.conversation.answers[0].record
        gate.set()  # the answer completes during the shutdown below
    # run_test re-raises a worker failure on leaving the block; no error note either.
    assert record.error is None


async def test_view_follows_the_stream_until_the_user_scrolls_up(make_app) -> None:
    long_answer = "".join(f"Paragraph {i} says pretraining helps [1].\n\n" for i in range(60))
    gate = asyncio.Event()
    app = make_app(FakeClient(script(long_answer, chunk=40), gate=gate, gate_after=30))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "long", wait=False)
        conversation = screen.conversation
        view = conversation.answers[0]
        await wait_for(pilot, lambda: "Paragraph 25" in view.markdown.source)
        await pilot.pause(0.2)
        assert conversation.max_scroll_y > 0
        assert conversation.scroll_y == conversation.max_scroll_y  # following the new text
        conversation.scroll_to(y=2, animate=False)  # the user scrolls up to read
        await pilot.pause()
        gate.set()
        await wait_for(pilot, lambda: not screen.answering)
        await pilot.pause(0.2)
        assert "Paragraph 59" in view.markdown.source
        assert conversation.scroll_y == 2 < conversation.max_scroll_y  # left where the user was
