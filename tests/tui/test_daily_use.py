"""Issue 14's daily-use gaps, each at 80×24 and 150×45: help, copy, typing, the sources
panel, reopening the last session, tokens, quitting, lost servers, prompt history."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Footer

from rag.sessions import Message, Session, SessionInfo
from tests.tui.conftest import ask, chat, ready, toasts, wait_for
from tests.tui.fakes import ANSWER, FakeClient, citations, script
from tui.app import DaemonThreads, PaperchatApp
from tui.keys import APP_KEYS, CHAT_KEYS, OTHER_KEYS, display
from tui.screens.help import HelpScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((150, 45), id="150x45")]
ROOT = Path(__file__).resolve().parents[2]


def visible(widget, container) -> bool:  # type: ignore[no-untyped-def]
    """Is `widget` wholly on screen inside `container`'s visible area?"""
    region = widget.region
    return region.height > 0 and container.content_region.contains_region(region)


async def open_help(pilot) -> HelpScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
    await pilot.pause()
    return pilot.app.screen  # type: ignore[no-any-return]


# -- 1. help --------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
async def test_help_lists_every_key_and_scrolls_to_the_last(make_app, size) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        help_screen = await open_help(pilot)
        dialog = help_screen.query_one("#help-dialog")
        texts = [" ".join(str(s.render()) for s in row.query("Static"))
                 for row in help_screen.rows]
        every = [(display(k.keys), k.help) for k in (*CHAT_KEYS, *APP_KEYS)] + list(OTHER_KEYS)
        for keys, text in every:
            assert any(t.startswith(keys) and text in t for t in texts), keys
        assert dialog.region.bottom <= size[1] and dialog.region.right <= size[0]
        rows = help_screen.rows
        assert visible(rows[0], dialog)
        await pilot.press("end")  # the dialog has focus: End scrolls to the bottom
        await pilot.pause()
        assert dialog.scroll_y == dialog.max_scroll_y
        assert visible(rows[-1], dialog), (dialog.max_scroll_y, rows[-1].region)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


@pytest.mark.parametrize("size", SIZES)
async def test_question_mark_opens_help_except_in_the_prompt(make_app, size) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=size) as pilot:
        screen = await ask(pilot, "q")
        await pilot.press("question_mark")  # the prompt has focus: it types a "?"
        assert screen.prompt.text == "?" and app.screen is screen
        screen.conversation.answers[0].focus()
        await pilot.press("question_mark")
        await open_help(pilot)
        await pilot.press("question_mark")  # ? closes it again
        await wait_for(pilot, lambda: app.screen is screen)


# -- 2. copy the focused answer -----------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
async def test_copy_takes_the_focused_answer_else_the_latest(make_app, tmp_path, size) -> None:
    client = FakeClient()
    app = make_app(client)
    copied = tmp_path / "data" / "last-answer.md"
    async with app.run_test(size=size) as pilot:
        screen = await ask(pilot, "first")
        client.events = script("The second answer is about speech [1].")
        await ask(pilot, "second")
        await pilot.press("ctrl+y")  # prompt focused: the latest answer
        assert copied.read_text().startswith("The second answer")
        first = screen.conversation.answers[0]
        first.focus()
        await pilot.pause()
        await pilot.press("ctrl+y")
        assert copied.read_text().startswith(ANSWER[:40])
        assert any("answer 1 of 2" in t for t in toasts(app))


# -- 3. typing goes to the prompt ---------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
async def test_typing_on_an_answer_or_a_source_goes_to_the_prompt(make_app, size) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=size) as pilot:
        screen = await ask(pilot, "q")
        screen.conversation.answers[0].focus()
        await pilot.press(*"and then")
        assert screen.prompt.has_focus and screen.prompt.text == "and then"
        if not screen.sources_visible:
            await pilot.press("ctrl+b")
        item = screen.sources.items[0]
        item.focus()
        await pilot.press("space")  # a source's own key still works: the abstract opens
        await wait_for(pilot, lambda: item.expanded and item.abstract is not None)
        assert item.has_focus
        await pilot.press("x")
        assert screen.prompt.has_focus and screen.prompt.text == "and thenx"
        screen.conversation.answers[0].focus()
        await pilot.press("ctrl+l")
        assert screen.prompt.has_focus and screen.prompt.text == "and thenx"


# -- 4. the sources panel -----------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
async def test_sources_panel_toggles_and_starts_hidden_when_narrow(make_app, size) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=size) as pilot:
        screen = await ask(pilot, "q")
        width = size[0]
        conversation, sources = screen.conversation, screen.sources
        narrow = width < 100
        assert sources.display is not narrow
        if narrow:  # the answer gets the whole width
            assert conversation.region.width == width
        else:  # side by side
            assert sources.region.x >= conversation.region.right
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert sources.display is narrow
        if narrow:  # shown under the chat, full width
            assert sources.region.y > conversation.region.y and sources.region.width == width
            assert [i.paper_id for i in sources.items if i.cited] == ["vit-seg", "gnn-pre"]
        else:
            assert conversation.region.width > width * 0.9
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert sources.display is not narrow


@pytest.mark.parametrize("size", SIZES)
async def test_footer_shows_help_and_quit_whole(make_app, size) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=size) as pilot:
        screen = await ready(pilot)
        keys = {k.key: k for k in screen.query_one(Footer).query("FooterKey")}  # type: ignore[attr-defined]
        for key in ("f1", "ctrl+q", "ctrl+b"):
            assert keys[key].region.width > 0 and keys[key].region.right <= size[0], key


# -- 5. reopen the last session -----------------------------------------------------------
def with_saved_session() -> FakeClient:
    client = FakeClient()
    info = SessionInfo(id="s-old", title="about vision transformers",
                       created_at="2024-01-01T10:00:00", updated_at="2024-01-01T10:00:00",
                       message_count=2)
    client.sessions["s-old"] = Session(**dict(info), messages=[
        Message(role="user", content="about vision transformers"),
        Message(role="assistant", content=ANSWER, citations=citations())])
    return client


@pytest.mark.parametrize("size", SIZES)
async def test_the_last_session_is_reopened_on_start(tmp_path, size) -> None:
    client = with_saved_session()
    app = PaperchatApp(client, data_dir=tmp_path / "data")  # resume_last defaults to on
    async with app.run_test(size=size) as pilot:
        screen = await ready(pilot)
        await wait_for(pilot, lambda: len(screen.conversation.answers) == 1)
        assert screen.session_id == "s-old"
        assert screen.conversation.answers[0].markdown.source == ANSWER
        assert screen.prompt.recall.entries == ["about vision transformers"]
        await ask(pilot, "and segmentation?")
        assert client.asked[-1] == ("and segmentation?", "s-old")


@pytest.mark.parametrize("size", SIZES)
async def test_reopening_can_be_turned_off(tmp_path, size) -> None:
    app = PaperchatApp(with_saved_session(), data_dir=tmp_path / "data", resume_last=False)
    async with app.run_test(size=size) as pilot:
        screen = await ready(pilot)
        await pilot.pause(0.1)
        assert screen.session_id is None and screen.conversation.answers == []


def test_chat_new_and_the_setting_turn_reopening_off(monkeypatch) -> None:
    from typer.testing import CliRunner

    from paperchat.main import app as cli

    seen: list[bool] = []
    monkeypatch.setattr(PaperchatApp, "run", lambda self: seen.append(self.resume_last))
    runner = CliRunner()
    assert runner.invoke(cli, ["chat"]).exit_code == 0
    assert runner.invoke(cli, ["chat", "--new"]).exit_code == 0
    monkeypatch.setenv("PAPERCHAT_TUI_RESUME_LAST", "false")
    assert runner.invoke(cli, ["chat"]).exit_code == 0
    assert seen == [True, False, False]


# -- 6. tokens only when a model ran ------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
async def test_tokens_are_shown_only_for_model_answers(make_app, size) -> None:
    client = FakeClient()  # extractive, though its done event carries usage
    app = make_app(client)
    async with app.run_test(size=size) as pilot:
        screen = await ask(pilot, "q")
        assert screen.status_bar.last_text == "last answer 1.2 s"
        events = script()
        events[-1] = events[-1].model_copy(update={"engine": "llm"})
        client.events = events
        await ask(pilot, "q2")
        assert screen.status_bar.last_text == "last answer 1.2 s · 342 tokens"


# -- 7. quitting is immediate ---------------------------------------------------------------
QUIT_SCRIPT = """
import asyncio, sys, threading, time
from pathlib import Path
from tests.tui.fakes import FakeClient
from tui.app import PaperchatApp

class Stuck(FakeClient):
    async def astream(self, question, *, session_id=None):
        yield (await anext(super().astream(question, session_id=session_id)))
        await asyncio.to_thread(time.sleep, 120)  # a blocking call nothing can cancel

async def pilot(p):
    screen = p.app.chat
    await asyncio.wait_for(screen.loaded.wait(), 60)
    screen.prompt.set_text("q")
    await p.press("enter")
    while not screen.sources.items:
        await p.pause(0.05)
    await p.pause(0.2)
    print("quitting", flush=True)
    await p.press("ctrl+q")

PaperchatApp(Stuck(), data_dir=Path(sys.argv[1])).run(headless=True, auto_pilot=pilot)
print("exited", flush=True)
"""


def test_quit_does_not_wait_for_a_blocking_call(tmp_path: Path) -> None:
    """A thread stuck in a library call (2 min here) must not hold the exit."""
    proc = subprocess.run([sys.executable, "-c", QUIT_SCRIPT, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["quitting", "exited"]


async def test_blocking_calls_run_in_daemon_threads(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert isinstance(asyncio.get_running_loop()._default_executor,  # type: ignore[attr-defined]
                          DaemonThreads)
        import threading

        assert await asyncio.to_thread(lambda: threading.current_thread().daemon)


@pytest.mark.parametrize("size", SIZES)
async def test_quit_mid_answer_cancels_the_answer(make_app, size) -> None:
    client = FakeClient(gate=asyncio.Event())  # blocks after the first token
    app = make_app(client)
    async with app.run_test(size=size) as pilot:
        screen = await ask(pilot, "slow", wait=False)
        await wait_for(pilot, lambda: screen.conversation.answers[0].markdown.source != "")
        await pilot.press("ctrl+q")
    assert client.closed_streams == 1 and client.finished_streams == 0


# -- 9. prompt history ----------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
async def test_history_has_no_duplicates_after_resuming(make_app, size) -> None:
    from tests.tui.test_sessions import open_sessions

    app = make_app(FakeClient())
    async with app.run_test(size=size) as pilot:
        screen = await ask(pilot, "graphs?")
        await ask(pilot, "speech?")
        first = screen.session_id
        for _ in range(2):  # resume the same session twice
            await open_sessions(pilot)
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen is chat(app) and screen.session_id == first
                           and len(screen.conversation.answers) == 2)
            await pilot.pause()
        await ask(pilot, "graphs?")  # asked again: moves to the end, once
        assert screen.prompt.recall.entries == ["speech?", "graphs?"]
        await pilot.press("up")
        assert screen.prompt.text == "graphs?"
        await pilot.press("up")
        assert screen.prompt.text == "speech?"
        await pilot.press("up")
        assert screen.prompt.text == "speech?"  # the oldest: no third entry


async def test_help_scrolls_when_the_terminal_is_shorter_than_the_list(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=(60, 16)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        help_screen = await open_help(pilot)
        dialog = help_screen.query_one("#help-dialog")
        rows = help_screen.rows
        assert dialog.max_scroll_y > 0 and not visible(rows[-1], dialog)
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown")
        await pilot.pause()
        assert visible(rows[-1], dialog) and not visible(rows[0], dialog)
        await pilot.press("home")
        await pilot.pause()
        assert visible(rows[0], dialog)
