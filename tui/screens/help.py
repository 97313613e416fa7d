"""F1 (or ?): every key, from the one table in tui/keys.py, in a scrollable list."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import APP_KEYS, CHAT_KEYS, OTHER_KEYS, display


def help_rows() -> list[tuple[str, str]]:
    """(keys, what they do) for every key, bound or handled by a widget."""
    rows: dict[str, str] = {}
    for k in (*CHAT_KEYS, *APP_KEYS):
        rows[display(k.keys)] = k.help
    return [*rows.items(), *OTHER_KEYS]


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; ↑/↓, PgUp/PgDn, Home/End scroll it when it is taller than the
    terminal."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q,question_mark", "close", "Close", priority=True)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "paperchat keys"
            dialog.border_subtitle = "esc closes · ↑↓ scroll"
            for keys, text in help_rows():
                with Horizontal(classes="help-row"):
                    yield Static(keys, classes="help-key", markup=False)
                    yield Static(text, classes="help-text", markup=False)

    def on_mount(self) -> None:
        self.query_one("#help-dialog").focus()

    @property
    def rows(self) -> list[Horizontal]:
        return list(self.query(".help-row").results(Horizontal))

    def action_close(self) -> None:
        self.dismiss(None)
