"""The scrolling list of turns; it follows new text (anchor) unless the user scrolls up."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.records import AnswerRecord
from tui.widgets.answer_view import AnswerView
from tui.widgets.user_message import UserMessage

WELCOME = ("Ask a question about the papers in the collection. Answers cite the papers "
           "[n]; their sources appear on the right.")


class Conversation(VerticalScroll):
    """User questions and answers, oldest first."""

    def compose(self) -> ComposeResult:
        yield Static(WELCOME, classes="welcome", markup=False)

    async def add_user(self, text: str) -> UserMessage:
        message = UserMessage(text)
        await self._add(message)
        return message

    async def add_answer(self, record: AnswerRecord) -> AnswerView:
        view = AnswerView(record)
        await self._add(view)
        return view

    async def _add(self, widget: Static | AnswerView) -> None:
        self.query(".welcome").remove()
        await self.mount(widget)
        self.anchor()  # follow the new turn; released when the user scrolls up

    async def clear(self) -> None:
        """Start over (new or resumed session)."""
        await self.remove_children()
        await self.mount(Static(WELCOME, classes="welcome", markup=False))

    @property
    def answers(self) -> list[AnswerView]:
        return list(self.query(AnswerView))
