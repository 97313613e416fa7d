"""Every key is in the footer, on F1 help and in the ctrl+p command palette."""

from __future__ import annotations

from textual.widgets import Footer, Static

from tests.tui.conftest import SIZE, ask, ready, wait_for
from tests.tui.fakes import FakeClient
from tui.keys import APP_KEYS, CHAT_KEYS, display
from tui.screens.help import HelpScreen

ALL = (*CHAT_KEYS, *APP_KEYS)


async def test_footer_shows_every_key(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=(160, 36)) as pilot:
        screen = await ready(pilot)
        footer = screen.query_one(Footer)
        shown = {(k.key, k.description) for k in footer.query("FooterKey")}  # type: ignore[attr-defined]
        for key in ALL:
            assert ((key.keys, key.label) in shown) is key.footer, key


async def test_f1_lists_every_key_and_closes_again(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = {str(row.query_one(".help-key", Static).render()):
                str(row.query_one(".help-text", Static).render()) for row in app.screen.rows}
        for key in ALL:
            assert rows[display(key.keys)] == key.help
        for words in ("shift+enter / ctrl+j", "↑ / ↓", "ctrl+p"):
            assert words in rows
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_palette_offers_every_action_and_runs_it(make_app, tmp_path) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "q")
        titles = {c.title for c in app.get_system_commands(screen)}
        assert {k.title for k in CHAT_KEYS} | {"Help", "Quit"} <= titles
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"export")
        await pilot.pause(0.3)
        await pilot.press("enter")
        exports = tmp_path / "data" / "exports"
        await wait_for(pilot, lambda: exports.is_dir() and any(exports.iterdir()))


async def test_palette_new_session_clears_the_conversation(make_app) -> None:
    app = make_app(FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "q")
        (new,) = [c for c in app.get_system_commands(screen) if c.title == "New session"]
        await new.callback()
        await pilot.pause()
        assert screen.conversation.answers == [] and screen.session_id is None
