"""One paper in the sources panel; Enter or a click expands its abstract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Static

if TYPE_CHECKING:
    from rag.models import Paper

SNIPPET_CHARS = 160  # about three lines of the panel
PaperLoader = Callable[[str], Awaitable["Paper | None"]]


class SourceItem(Static):
    """A numbered (cited) or bulleted (retrieved, not cited) paper."""

    can_focus = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "toggle_abstract", "Abstract", show=False)]

    def __init__(self, source: dict[str, Any], *, cited: bool,
                 loader: PaperLoader | None = None) -> None:
        super().__init__()
        self.source = source
        self.cited = cited
        self.loader = loader
        self.expanded = False
        self.abstract: str | None = None
        self.set_class(not cited, "-uncited")

    @property
    def paper_id(self) -> str:
        return str(self.source.get("paper_id", ""))

    def on_mount(self) -> None:
        self.update(self._content())

    def _content(self) -> Content:
        s = self.source
        mark = f"[{s.get('n')}]" if self.cited else "·"
        lines = [Content.from_markup("[b]$mark $title[/b]", mark=mark,
                                     title=str(s.get("title", "")))]
        if self.expanded:
            body = self.abstract if self.abstract is not None else "loading the abstract…"
            lines.append(Content(body))
        elif s.get("snippet"):
            lines.append(Content.from_markup("[$text-muted]$snippet",
                                             snippet=_shorten(str(s["snippet"]))))
        tail = []
        support = s.get("support")
        if isinstance(support, int | float):
            tail.append(f"support {support:.2f}")
        tail.append("▾ abstract" if self.expanded else "▸ abstract")
        lines.append(Content.from_markup("[$text-muted]$tail", tail=" · ".join(tail)))
        return Content("\n").join(lines)

    def action_toggle_abstract(self) -> None:
        """Expand or collapse the abstract (fetched on first expand)."""
        self.expanded = not self.expanded
        self.set_class(self.expanded, "-expanded")
        self.update(self._content())
        if self.expanded and self.abstract is None:
            self._load_abstract()

    @work(exclusive=True, group="abstract")
    async def _load_abstract(self) -> None:
        paper = await self.loader(self.paper_id) if self.loader else None
        self.abstract = paper.abstract if paper else str(self.source.get("snippet", ""))
        self.update(self._content())

    def on_click(self, event: events.Click) -> None:
        self.action_toggle_abstract()


def _shorten(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The first `limit` characters, cut at a word, with an ellipsis (Enter shows it all)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:.…") + "…"
