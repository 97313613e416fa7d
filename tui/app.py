"""The paperchat terminal app: one chat screen, keys in the footer, F1 and the palette."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import App, CSSPathType, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from tui.client import ChatClient
from tui.keys import APP_KEYS, CHAT_KEYS
from tui.screens.chat import ChatScreen
from tui.screens.help import HelpScreen

WIDGETS = Path(__file__).parent / "widgets"


class PaperchatApp(App[None]):
    """Chat with the paper collection through a `ChatClient`."""

    TITLE = "paperchat"
    CSS_PATH: ClassVar[CSSPathType | None] = [
        "app.tcss", *(str(p) for p in sorted(WIDGETS.glob("*.tcss")))]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(k.keys, k.action, k.label, tooltip=k.help, priority=True) for k in APP_KEYS]

    def __init__(self, client: ChatClient, *, data_dir: Path) -> None:
        super().__init__()
        self.client = client
        self.data_dir = data_dir

    def get_default_screen(self) -> Screen:
        return ChatScreen(self.client, export_dir=self.data_dir / "exports",
                          clipboard_file=self.data_dir / "last-answer.md")

    @property
    def chat(self) -> ChatScreen:
        return next(s for s in self.screen_stack if isinstance(s, ChatScreen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key's action is also a palette command."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, ChatScreen):
            for key in CHAT_KEYS:
                yield SystemCommand(key.title, f"{key.help} ({key.keys})",
                                    partial(screen.run_action, key.action))
        yield SystemCommand("Help", "Show every key (f1)", self.action_help)

    def action_help(self) -> None:
        """F1: the key list (F1 again closes it)."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen())

    async def on_unmount(self) -> None:
        await self.client.aclose()
