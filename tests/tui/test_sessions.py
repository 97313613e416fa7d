"""New session, session list (resume, rename, delete), export and copy."""

from __future__ import annotations

import asyncio

from tests.tui.conftest import SIZE, ask, ready, toasts, wait_for
from tests.tui.fakes import ANSWER, FakeClient
from tui.screens.sessions import SessionsScreen
from tui.widgets.user_message import UserMessage


def questions(screen) -> list[str]:
    return [m.text for m in screen.query(UserMessage)]


async def open_sessions(pilot) -> SessionsScreen:
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen))
    sessions = pilot.app.screen
    await wait_for(pilot, lambda: sessions.query_one("OptionList").option_count > 0)
    await pilot.pause()
    return sessions


async def test_new_session_then_resume_the_first(make_app) -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "about vision transformers")
        first = screen.session_id
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen.session_id is None
        assert questions(screen) == [] and screen.conversation.answers == []
        assert screen.sources.items == []
        await ask(pilot, "about graphs")
        assert screen.session_id not in (None, first)

        sessions = await open_sessions(pilot)
        assert [s.title for s in sessions.sessions] == ["about graphs",
                                                        "about vision transformers"]
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.session_id == first and bool(questions(screen)))
        await pilot.pause()
        assert app.screen is screen
        assert questions(screen) == ["about vision transformers"]
        assert [v.markdown.source for v in screen.conversation.answers] == [ANSWER]
        assert [i.paper_id for i in screen.sources.items if i.cited] == ["vit-seg", "gnn-pre"]
        # The resumed session continues: the next question goes to it.
        await ask(pilot, "and segmentation?")
        assert client.asked[-1] == ("and segmentation?", first)
        assert len(client.sessions[first].messages) == 4


async def test_rename_and_delete_from_the_session_list(make_app) -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "old title")
        sid = screen.session_id
        sessions = await open_sessions(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RenameScreen")
        app.screen.query_one("Input").value = ""
        await pilot.press(*"Pretraining notes", "enter")
        await wait_for(pilot, lambda: app.screen is sessions
                       and sessions.sessions[0].title == "Pretraining notes")
        assert client.sessions[sid].info.title == "Pretraining notes"

        await pilot.press("d")  # the first press asks for confirmation
        assert sid in client.sessions
        assert any("again to delete" in t for t in toasts(app, "warning"))
        await pilot.press("d")
        await wait_for(pilot, lambda: sid not in client.sessions)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen and screen.session_id is None)
        assert questions(screen) == []


async def test_the_highlight_follows_a_renamed_session_so_delete_hits_it(make_app) -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "older")
        older = screen.session_id
        await pilot.press("ctrl+n")
        await ask(pilot, "newer")
        sessions = await open_sessions(pilot)
        assert [s.title for s in sessions.sessions] == ["newer", "older"]
        await pilot.press("down", "r")  # rename "older": it becomes the most recent
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RenameScreen")
        app.screen.query_one("Input").value = "renamed"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is sessions
                       and [s.title for s in sessions.sessions] == ["renamed", "newer"])
        await pilot.pause()
        await pilot.press("d", "d")
        await wait_for(pilot, lambda: older not in client.sessions)
        assert [s.info.title for s in client.sessions.values()] == ["newer"]


async def test_escape_closes_the_session_list_without_changes(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "keep me")
        await open_sessions(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert questions(screen) == ["keep me"] and screen.session_id == "s001"


async def test_export_writes_markdown_with_references_and_bibtex(make_app, tmp_path) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Does masked pretraining help?")
        await pilot.press("ctrl+e")
        exports = tmp_path / "data" / "exports"
        await wait_for(pilot, lambda: exports.is_dir() and any(exports.iterdir()))
        (path,) = exports.iterdir()
        text = path.read_text(encoding="utf-8")
        assert path.name == "does-masked-pretraining-help-s001.md"
        assert any(str(path) in t for t in toasts(app))
    assert text.startswith("# Does masked pretraining help?")
    assert "## Question\n\nDoes masked pretraining help?" in text
    assert ANSWER in text
    assert "- [1] Vision Transformers for Dense Segmentation [@lovelace2023vision]" in text
    assert "- [2] Strategies for Pre-training Graph Neural Networks [@strategiespretraining]" \
        in text
    assert "## References" in text
    assert "Ada Lovelace, Alan Turing (2023). *Vision Transformers for Dense Segmentation*." \
        in text
    assert "@misc{lovelace2023vision," in text
    assert "author = {Ada Lovelace and Alan Turing}" in text
    assert "adapters" not in text.lower()  # retrieved but not cited: no reference


async def test_export_without_a_session_says_so(make_app, tmp_path) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: bool(toasts(app, "warning")))
        assert "Nothing to export" in toasts(app, "warning")[0]
    assert not (tmp_path / "data" / "exports").exists()


async def test_copy_uses_the_clipboard_and_a_fallback_file(make_app, tmp_path) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "q")
        await pilot.press("ctrl+y")
        await pilot.pause()
        fallback = tmp_path / "data" / "last-answer.md"
        assert app.clipboard.startswith(ANSWER)
        assert "[1] Vision Transformers for Dense Segmentation (vit-seg)" in app.clipboard
        assert fallback.read_text(encoding="utf-8") == app.clipboard
        assert any(str(fallback) in t for t in toasts(app))


async def test_new_session_while_answering_stops_the_answer_first(make_app) -> None:
    client = FakeClient(gate=asyncio.Event())  # the first answer never finishes by itself
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "slow", wait=False)
        await wait_for(pilot, lambda: screen.conversation.answers[0].markdown.source != "")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: not screen.answering)
        await pilot.pause()
        assert client.closed_streams == 1
        assert questions(screen) == [] and screen.session_id is None
        client.gate = None
        await ask(pilot, "fresh")
        assert questions(screen) == ["fresh"] and screen.session_id is not None
        assert screen.conversation.answers[0].record.done


async def test_resuming_while_answering_keeps_the_resumed_session(make_app) -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "saved question")
        saved = screen.session_id
        await pilot.press("ctrl+n")
        client.gate = asyncio.Event()
        await ask(pilot, "in flight", wait=False)
        await wait_for(pilot, lambda: len(screen.conversation.answers) == 1
                       and screen.conversation.answers[0].markdown.source != "")
        await open_sessions(pilot)
        sessions = app.screen
        index = [s.id for s in sessions.sessions].index(saved)
        sessions.query_one("OptionList").highlighted = index
        await pilot.press("enter")
        await wait_for(pilot, lambda: questions(screen) == ["saved question"])
        await pilot.pause()
        assert screen.session_id == saved and not screen.answering
        assert client.closed_streams == 2
