"""An assistant turn: the answer as Markdown (citation markers [n] kept) and a status note."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Markdown, Static

from tui.records import AnswerRecord


class AnswerView(Vertical):
    """Shows one answer; click or Enter selects it so the sources panel shows its papers."""

    can_focus = True

    class Selected(Message):
        """This answer was selected."""

        def __init__(self, view: AnswerView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, record: AnswerRecord) -> None:
        super().__init__()
        self.record = record
        self.border_title = "paperchat"

    def compose(self) -> ComposeResult:
        yield Markdown(self.record.text, classes="answer-text")
        text = note(self.record)
        note_widget = Static(text, classes="answer-note")
        note_widget.display = bool(text)
        yield note_widget

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    async def finish(self) -> None:
        """Show how the answer ended; the final text replaces the streamed one if they differ."""
        record = self.record
        if record.done and self.markdown.source != record.text:
            await self.markdown.update(record.text)
        if not record.text and not record.done:
            await self.markdown.update("*(no answer)*")
        text = note(record)
        note_widget = self.query_one(".answer-note", Static)
        note_widget.update(text)
        note_widget.display = bool(text)
        self.set_class(bool(record.error), "-error")

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Selected(self))

    def on_focus(self, event: events.Focus) -> None:
        self.post_message(self.Selected(self))


def note(record: AnswerRecord) -> Content:
    """The line under an answer: error, cancellation, notice, weakly supported sentences."""
    parts: list[Content] = []
    if record.error:
        parts.append(Content.from_markup("[$error]✖ $text", text=record.error))
    elif record.cancelled:
        parts.append(Content.from_markup("[$warning]■ cancelled"))
    if record.notice:
        markup = "[$warning]⚠ $text" if record.degraded else "[$text-muted]ℹ $text"
        parts.append(Content.from_markup(markup, text=record.notice))
    if record.unsupported:
        n = len(record.unsupported)
        parts.append(Content.from_markup(
            "[$warning]⚠ $n weakly supported (see Sources)",
            n=f"{n} sentence{'s' if n > 1 else ''}"))
    return Content("\n").join(parts)
