"""ctrl+s: the saved sessions; Enter resumes, r renames, d (twice) deletes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from rag.errors import PaperchatError
from tui.screens.rename import RenameScreen

if TYPE_CHECKING:
    from rag.sessions import SessionInfo
    from tui.client import ChatClient


@dataclass
class SessionsResult:
    """What the chat screen should do when the list closes."""

    resume: str | None = None
    deleted: set[str] = field(default_factory=set)


class SessionsScreen(ModalScreen[SessionsResult]):
    """A modal list of sessions, most recent first."""

    CSS_PATH = "sessions.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("enter", "resume", "Resume", show=True),
        Binding("r", "rename", "Rename"),
        Binding("d,delete", "delete", "Delete"),
    ]

    def __init__(self, client: ChatClient, current: str | None) -> None:
        super().__init__()
        self.client = client
        self.current = current
        self.sessions: list[SessionInfo] = []
        self.result = SessionsResult()
        self._confirm_delete: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-dialog"):
            yield Static("Sessions", id="sessions-title")
            yield OptionList(id="session-list")
            yield Static("enter resume · r rename · d twice delete · esc close",
                         id="sessions-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    @work(exclusive=True, group="sessions")
    async def reload(self) -> None:
        """Fetch the list again (after a rename or delete too)."""
        options = self.query_one(OptionList)
        shown = self._selected()
        problem: str | None = None
        try:
            self.sessions = await self.client.list_sessions()
        except PaperchatError as e:
            problem = str(e)
            self.notify(problem, title="Cannot list sessions", severity="error")
            self.sessions = []
        highlighted = options.highlighted
        options.clear_options()
        options.add_options([Option(self._label(s), id=s.id) for s in self.sessions])
        # Stay on the same session (a rename moves it to the top); first open: the current.
        ids = [s.id for s in self.sessions]
        keep = shown.id if shown is not None else self.current
        if problem is not None:  # not "no sessions": they could not be fetched
            options.add_option(Option(Content.from_markup(
                "[$error]Cannot list sessions: $problem", problem=problem), disabled=True))
        elif not self.sessions:
            options.add_option(Option("No saved sessions yet.", disabled=True))
        elif keep in ids:
            options.highlighted = ids.index(keep)
        else:  # deleted: the one that took its place
            options.highlighted = min(highlighted or 0, len(self.sessions) - 1)
        options.focus()

    def _label(self, s: SessionInfo) -> Content:
        mark = "● " if s.id == self.current else "  "
        when = s.updated_at[:16].replace("T", " ")
        return Content.from_markup("$mark[b]$title[/b]\n  [$text-muted]$count · $when",
                                   mark=mark, title=s.title or "(untitled)",
                                   count=f"{s.message_count} messages", when=when)

    def _selected(self) -> SessionInfo | None:
        index = self.query_one(OptionList).highlighted
        if index is None or index >= len(self.sessions):
            return None
        return self.sessions[index]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_resume()

    def action_resume(self) -> None:
        session = self._selected()
        if session is not None:
            self.result.resume = session.id
            self.dismiss(self.result)

    def action_close(self) -> None:
        self.dismiss(self.result)

    def action_rename(self) -> None:
        session = self._selected()
        if session is None:
            return

        def renamed(title: str | None) -> None:
            if title and session is not None:
                self._rename(session.id, title)

        self.app.push_screen(RenameScreen(session.title or ""), renamed)

    @work(group="sessions-edit")
    async def _rename(self, session_id: str, title: str) -> None:
        try:
            await self.client.rename_session(session_id, title)
        except PaperchatError as e:
            self.notify(str(e), title="Rename failed", severity="error")
        self.reload()

    def action_delete(self) -> None:
        session = self._selected()
        if session is None:
            return
        if self._confirm_delete != session.id:
            self._confirm_delete = session.id
            self.notify(f"Press d again to delete “{session.title or '(untitled)'}”.",
                        severity="warning")
            return
        self._confirm_delete = None
        self._delete(session.id)

    @work(group="sessions-edit")
    async def _delete(self, session_id: str) -> None:
        try:
            await self.client.delete_session(session_id)
        except PaperchatError as e:
            self.notify(str(e), title="Delete failed", severity="error")
        else:
            self.result.deleted.add(session_id)
            self.notify("Session deleted.")
        self.reload()
