"""The main screen: conversation, sources panel, prompt, status bar, footer."""

from __future__ import annotations

import asyncio
import gc
import time
from contextlib import aclosing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Markdown
from textual.widgets.markdown import MarkdownStream

from rag.errors import PaperchatError
from tui.client import ServerUnavailable
from tui.keys import CHAT_KEYS
from tui.records import AnswerRecord
from tui.screens.sessions import SessionsResult, SessionsScreen
from tui.widgets.answer_view import AnswerView
from tui.widgets.conversation import Conversation
from tui.widgets.prompt_input import PromptInput
from tui.widgets.sources_panel import SourcesPanel
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from textual.worker import Worker

    from tui.client import ChatClient, ClientStatus

NARROW = 100  # columns: below this the sources panel starts hidden and stacks under the chat


class ChatScreen(Screen[None]):
    """Ask, read the streamed answer and its sources; sessions persist through the client."""

    CSS_PATH = "chat.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [k.binding() for k in CHAT_KEYS]
    # Textual declares this unannotated; ClassVar here would clash with Screen's (mypy).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]  # noqa: RUF012

    def __init__(self, client: ChatClient, *, export_dir: Path, clipboard_file: Path,
                 resume_last: bool = False) -> None:
        super().__init__()
        self.client = client
        self.export_dir = export_dir
        self.clipboard_file = clipboard_file
        self.resume_last = resume_last  # reopen the most recent session once loaded
        self.sources_pinned: bool | None = None  # ctrl+b's choice; None: by terminal width
        self.session_id: str | None = None
        self.client_status: ClientStatus | None = None
        self.loaded = asyncio.Event()  # set when loading ends, ready or not (tests, bench)
        self._answer: Worker[None] | None = None
        self._loading: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield Conversation(id="conversation")
                yield PromptInput(id="prompt")
            yield SourcesPanel(id="sources")
        yield StatusBar(id="status")
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p is on the help screen

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def sources(self) -> SourcesPanel:
        return self.query_one(SourcesPanel)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def answering(self) -> bool:
        return self._answer is not None and not self._answer.is_finished

    def on_mount(self) -> None:
        self.sources.loader = self.client.get_paper
        self._apply_sources()
        self.prompt.focus()
        # Heavy loading (the store, the model, a first-run ingest) starts after the first paint.
        self.call_after_refresh(self._start_loading)

    def _start_loading(self) -> None:
        self._loading = self.load_engine()

    @work(exclusive=True, group="load")
    async def load_engine(self) -> None:
        """Load the engine; a failure is reported and retried with the next question."""
        bar = self.status_bar
        bar.set_busy("loading the engine…")
        try:
            self._set_ready(await self.client.start(progress=bar.set_progress))
            # Everything loaded so far (Textual, chromadb, the model) is long-lived: keep it
            # out of the collector's full passes, which paused streaming for ~100 ms.
            gc.freeze()
            if self.resume_last:
                await self._reopen_last()
        except Exception as e:  # PaperchatError, or a bug: report it, never crash
            reason = str(e) if isinstance(e, PaperchatError) else f"unexpected error: {e!r}"
            if not isinstance(e, PaperchatError):
                self.log.error("loading failed", repr(e))
            bar.set_unavailable(reason)
            self.notify(reason, title="Not ready", severity="error", timeout=8)
        finally:
            bar.hide_progress()
            bar.set_busy("answering…" if self.answering else None)
            self.loaded.set()

    def _set_ready(self, status: ClientStatus) -> None:
        self.client_status = status
        self.status_bar.set_ready(status)
        if status.ingested:
            self.notify(f"First run: indexed the bundled collection ({status.ingested} papers).")

    async def _reopen_last(self) -> None:
        """Reopen the most recent session (the `tui.resume_last` setting; `chat --new` not)."""
        if self.session_id is not None or self.conversation.answers:
            return
        try:
            sessions = await self.client.list_sessions()
        except PaperchatError as e:
            self.notify(f"Could not reopen the last session: {e}", severity="warning")
            return
        if sessions:
            await self._load_session(sessions[0].id, reopened=True)

    # -- layout and focus ---------------------------------------------------------
    @property
    def sources_visible(self) -> bool:
        """The user's ctrl+b choice, else shown from NARROW columns up."""
        if self.sources_pinned is not None:
            return self.sources_pinned
        return self.app.size.width >= NARROW

    def _apply_sources(self) -> None:
        self.set_class(not self.sources_visible, "-no-sources")

    def on_resize(self, event: events.Resize) -> None:
        self._apply_sources()

    def action_toggle_sources(self) -> None:
        """ctrl+b: show or hide the sources panel (stacked under the chat when narrow)."""
        self.sources_pinned = not self.sources_visible
        self._apply_sources()
        focused = self.focused
        if not self.sources_pinned and focused is not None and (
                focused is self.sources or self.sources in focused.ancestors):
            self.prompt.focus()

    def action_focus_prompt(self) -> None:
        """ctrl+l: back to the prompt."""
        self.prompt.focus()

    def on_key(self, event: events.Key) -> None:
        """Typing with an answer or a source focused goes to the prompt."""
        if (not event.is_printable or event.character is None or self.prompt.has_focus
                or event.key in self.active_bindings):  # `?` (help), space on a source
            return
        event.stop()
        event.prevent_default()
        self.prompt.focus()
        self.prompt.insert(event.character)

    # -- asking -----------------------------------------------------------------
    def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        question = event.text.strip()
        if not question:
            return
        if self.answering:
            self.notify("An answer is still coming; esc cancels it.", severity="warning")
            return
        if self._loading is not None and not self._loading.is_finished:
            self.notify("Still loading the engine; your question is kept.", severity="warning")
            return
        self.prompt.recall.add(question)
        self.prompt.set_text("")
        self._answer = self.ask(question)

    @work(exclusive=True, group="answer")
    async def ask(self, question: str) -> None:
        """Stream one answer into the conversation; failures end as a toast and a note."""
        try:
            await self._ask(question)
        except NoMatches:  # the app closed mid-answer and took the widgets with it
            self.log.warning("answer abandoned: the screen was closed")

    async def _ask(self, question: str) -> None:
        record = AnswerRecord(question)
        await self.conversation.add_user(question)
        view = await self.conversation.add_answer(record)
        await self.select(view)
        self.status_bar.set_busy("answering…")
        # Made on the first token: stopping a MarkdownStream whose task never ran raises
        # CancelledError (awaiting a task cancelled before it started).
        stream: MarkdownStream | None = None
        started = time.perf_counter()
        created: str | None = None
        try:
            if self.client_status is None:
                self._set_ready(await self.client.start())
            if self.session_id is None:
                self.session_id = created = (await self.client.create_session(question)).id
            events = self.client.astream(question, session_id=self.session_id)
            async with aclosing(events):
                async for event in events:
                    record.apply(event.type, event.data)
                    if event.type == "token":
                        stream = stream or Markdown.get_stream(view.markdown)
                        await stream.write(str(event.data.get("text", "")))
                    elif event.type == "reset":  # the text so far is withdrawn; more follows
                        if stream is not None:
                            await stream.stop()
                            stream = None
                        await view.markdown.update("")
                    elif event.type in ("sources", "citations") and self.sources.record is record:
                        await self.sources.show(record)
                    elif event.type in ("done", "error"):
                        break
            if not record.done and record.error is None:
                record.error = "the answer ended without a result"
        except asyncio.CancelledError:
            record.cancelled = True
            raise
        except PaperchatError as e:
            record.error = str(e)
            if isinstance(e, ServerUnavailable):  # check readiness again before the next one
                self.client_status = None
                self.status_bar.set_unavailable(f"no answer from {self.client.where}")
        except NoMatches:
            raise
        except Exception as e:  # the edge: a bug must not take the screen down
            self.log.error("answer failed", repr(e))
            record.error = f"unexpected error: {e!r}"
        finally:
            if created and not record.done:  # nothing was saved: leave no empty session
                await self._forget_session(created)
            await self._finish(record, view, stream, time.perf_counter() - started)

    async def _forget_session(self, session_id: str) -> None:
        if self.session_id == session_id:
            self.session_id = None
        with suppress(PaperchatError):
            await self.client.delete_session(session_id)

    async def _finish(self, record: AnswerRecord, view: AnswerView,
                      stream: MarkdownStream | None, elapsed: float) -> None:
        if stream is not None:
            await stream.stop()
        self.status_bar.set_busy(None)
        await view.finish()
        if self.sources.record is record:
            await self.sources.show(record)
        if record.done:
            self.status_bar.set_last(record, elapsed * 1000)
        if record.error or record.cancelled:
            self._give_prompt_back(record.question)
        if record.error:
            self.notify(record.error, title="Answer failed", severity="error", timeout=8)
        elif record.done and record.degraded:
            self.notify(record.notice or "The LLM failed; this answer was built from the "
                        "abstracts instead.", title="LLM unavailable", severity="warning",
                        timeout=8)

    def _give_prompt_back(self, question: str) -> None:
        """The question returns to the prompt unless the user has typed a new one."""
        if not self.prompt.text.strip():
            self.prompt.set_text(question)
        self.prompt.disabled = False
        self.prompt.focus()

    async def select(self, view: AnswerView) -> None:
        """Show `view`'s sources in the panel."""
        for other in self.conversation.answers:
            other.set_class(other is view, "-selected")
        await self.sources.show(view.record)

    async def on_answer_view_selected(self, event: AnswerView.Selected) -> None:
        await self.select(event.view)

    def action_cancel_answer(self) -> None:
        """Esc: stop the answer in flight (the LLM stream is closed)."""
        self.cancel_answer()

    def cancel_answer(self) -> None:
        """Cancel the answer worker, if one runs (returns at once)."""
        if self.answering and self._answer is not None:
            self._answer.cancel()

    async def _stop_answer(self) -> None:
        """Cancel the answer in flight and wait until it has cleaned up after itself."""
        worker = self._answer
        if worker is not None and not worker.is_finished:
            worker.cancel()
            with suppress(Exception):  # WorkerCancelled/WorkerFailed: over either way
                await worker.wait()

    # -- sessions ---------------------------------------------------------------
    async def action_new_session(self) -> None:
        await self._stop_answer()
        self.session_id = None
        await self.conversation.clear()
        await self.sources.show(None)
        self.prompt.focus()
        self.notify("New session.")

    def action_sessions(self) -> None:
        self.app.push_screen(SessionsScreen(self.client, self.session_id), self._sessions_closed)

    async def _sessions_closed(self, result: SessionsResult | None) -> None:
        if result is None:
            return
        if result.resume:
            await self._stop_answer()
            self.resume(result.resume)
        elif self.session_id in result.deleted:
            await self.action_new_session()

    @work(exclusive=True, group="resume")
    async def resume(self, session_id: str) -> None:
        """Load a saved session into the conversation."""
        await self._load_session(session_id)

    async def _load_session(self, session_id: str, *, reopened: bool = False) -> None:
        try:
            session = await self.client.get_session(session_id)
        except PaperchatError as e:
            self.notify(str(e), title="Cannot resume", severity="error")
            return
        await self.conversation.clear()
        await self.sources.show(None)
        self.session_id = session.info.id
        question, last = "", None
        for message in session.messages:
            if message.role == "user":
                question = message.content
                self.prompt.recall.add(question)
                await self.conversation.add_user(question)
            else:
                record = AnswerRecord.from_message(question, message.content, message.citations)
                last = await self.conversation.add_answer(record)
        if last is not None:
            await self.select(last)
        self.conversation.anchor()
        self.prompt.focus()
        title = session.info.title or "(untitled)"
        self.notify(f"Reopened your last session “{title}”; ctrl+n starts a new one."
                    if reopened else f"Resumed “{title}”.")

    # -- export and copy ----------------------------------------------------------
    @work(exclusive=True, group="export")
    async def action_export(self) -> None:
        """Write the session as Markdown with references and BibTeX; say where."""
        from tui.export import cited_paper_ids, export_path, session_markdown

        if self.session_id is None:
            self.notify("Nothing to export yet: ask a question first.", severity="warning")
            return
        try:
            session = await self.client.get_session(self.session_id)
            ids = cited_paper_ids(session)
            papers = dict(zip(ids, await asyncio.gather(*map(self.client.get_paper, ids)),
                              strict=True))
            path = export_path(self.export_dir, session)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(session_markdown(session, papers), encoding="utf-8")
        except (PaperchatError, OSError) as e:
            self.notify(str(e), title="Export failed", severity="error")
            return
        self.notify(f"Exported to {path}", title="Exported", timeout=10)

    @property
    def selected_answer(self) -> AnswerView | None:
        """The focused answer, else the one whose sources are shown, else the latest."""
        answers = [v for v in self.conversation.answers if v.record.text]
        focused = self.focused
        for view in answers:
            if focused is view or (focused is not None and view in focused.ancestors):
                return view
        selected = [v for v in answers if v.has_class("-selected")] or answers
        return selected[-1] if selected else None

    def action_copy_answer(self) -> None:
        """Copy the selected answer via OSC 52; also write it to a file, for terminals
        without it."""
        from tui.export import answer_text

        view = self.selected_answer
        if view is None:
            self.notify("No answer to copy yet.", severity="warning")
            return
        answers = self.conversation.answers
        which = ("the latest answer" if view is answers[-1]
                 else f"answer {answers.index(view) + 1} of {len(answers)}")
        text = answer_text(view.record.text, view.record.citations)
        self.app.copy_to_clipboard(text)
        try:
            self.clipboard_file.parent.mkdir(parents=True, exist_ok=True)
            self.clipboard_file.write_text(text, encoding="utf-8")
            where = f"; also saved to {self.clipboard_file}"
        except OSError as e:
            where = f"; could not save a copy: {e.strerror}"
        self.notify(f"Copied {which}{where}", title="Copied", timeout=8)
