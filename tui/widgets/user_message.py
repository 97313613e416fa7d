"""A question the user sent, shown as plain text."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class UserMessage(Static):
    """One user turn."""

    def __init__(self, text: str) -> None:
        super().__init__(Content(text))
        self.text = text
        self.border_title = "You"
