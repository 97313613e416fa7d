"""F1: every key, from the one table in tui/keys.py."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Markdown

from tui.keys import APP_KEYS, CHAT_KEYS, OTHER_KEYS, display


def help_markdown() -> str:
    rows = [(display(k.keys), k.help) for k in (*CHAT_KEYS, *APP_KEYS)] + list(OTHER_KEYS)
    lines = ["# paperchat keys", "", "| Key | Does |", "|---|---|"]
    lines += [f"| `{key}` | {text} |" for key, text in rows]
    lines += ["", "Press esc or F1 to close."]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """A modal list of keys."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close", priority=True)]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Markdown(help_markdown())

    def action_close(self) -> None:
        self.dismiss(None)
