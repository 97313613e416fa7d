"""The question box: Enter sends, Shift+Enter or ctrl+j breaks the line, up/down recall."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from tui.history import PromptHistory

PLACEHOLDER = "Ask about the papers…  Enter sends · ctrl+j new line · ↑ recalls"


class PromptInput(TextArea):
    """A multi-line prompt with shell-style history."""

    class Submitted(Message):
        """The user pressed Enter."""

        def __init__(self, prompt: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, highlight_cursor_line=False,
                         placeholder=PLACEHOLDER)
        self.recall = PromptHistory()

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def set_text(self, text: str) -> None:
        """Replace the prompt text and put the cursor at its end."""
        self.text = text
        self.move_cursor(self.document.end)

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.navigator.is_first_wrapped_line(self.cursor_location):
            recalled = self.recall.previous(self.text)
            if recalled is not None:
                self.set_text(recalled)
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        if not select and self.navigator.is_last_wrapped_line(self.cursor_location):
            recalled = self.recall.next()
            if recalled is not None:
                self.set_text(recalled)
            return
        super().action_cursor_down(select)
