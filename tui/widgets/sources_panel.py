"""The papers behind the selected answer: cited ones numbered [n], then the other retrieved
ones; weakly supported answer sentences are listed with a warning."""

from __future__ import annotations

import re

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tui.records import AnswerRecord
from tui.widgets.source_item import PaperLoader, SourceItem

_EMPHASIS = re.compile(r"\*\*|`")


class SourcesPanel(VerticalScroll):
    """Shows one answer's sources; `show(record)` rebuilds it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Sources"
        self.loader: PaperLoader | None = None
        self.record: AnswerRecord | None = None

    def on_mount(self) -> None:
        self.mount(Static("The papers an answer cites appear here.", classes="hint"))

    async def show(self, record: AnswerRecord | None) -> None:
        """Display `record`'s sources (None: empty panel)."""
        self.record = record
        widgets: list[Widget] = []
        if record is None:
            widgets.append(Static("The papers an answer cites appear here.", classes="hint"))
        elif record.citations:
            widgets += [SourceItem(c, cited=True, loader=self.loader) for c in record.citations]
        elif record.done:
            widgets.append(Static("This answer cites no papers.", classes="hint"))
        elif record.error or record.cancelled:
            widgets.append(Static("The answer did not finish; it had retrieved:"
                                  if record.sources else "The answer stopped before any "
                                  "papers were retrieved.", classes="hint"))
        else:
            widgets.append(Static("Retrieved; the answer is being written…" if record.sources
                                  else "Searching the collection…", classes="hint"))
        if record is not None and record.unsupported:
            widgets.append(Static(_unsupported(record.unsupported), classes="unsupported"))
        uncited = record.uncited_sources if record is not None else []
        if uncited and record is not None and (record.citations or record.done):
            widgets.append(Static("Also retrieved, not cited", classes="heading"))
        if uncited:
            widgets += [SourceItem(s, cited=False, loader=self.loader) for s in uncited]
        with self.app.batch_update():
            await self.remove_children()
            await self.mount_all(widgets)
        self.scroll_home(animate=False)

    @property
    def items(self) -> list[SourceItem]:
        return list(self.query(SourceItem))


def _unsupported(sentences: list[str]) -> Content:
    lines = [Content.from_markup("[b $warning]⚠ Weakly supported sentences")]
    # Shown as plain text: drop the Markdown emphasis an LLM answer's sentences carry.
    lines += [Content.from_markup("[$warning]• $s", s=_EMPHASIS.sub("", s)) for s in sentences]
    return Content("\n").join(lines)
