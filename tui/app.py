"""The paperchat terminal app: one chat screen, keys in the footer, F1 and the palette."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar, ParamSpec, TypeVar

from textual.app import App, CSSPathType, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from tui.client import ChatClient
from tui.keys import APP_KEYS, CHAT_KEYS
from tui.screens.chat import ChatScreen
from tui.screens.help import HelpScreen

WIDGETS = Path(__file__).parent / "widgets"
P = ParamSpec("P")
T = TypeVar("T")


class DaemonThreads(concurrent.futures.ThreadPoolExecutor):  # asyncio accepts only these
    """The loop's default executor (asyncio.to_thread): each call in its own daemon thread.

    Blocking library calls (a first-run ingest, embedding, a database call) cannot be
    cancelled, and asyncio.run waits for the default executor's threads on the way out:
    quitting took as long as the call (16 s into a first-run ingest). Daemon threads are
    left behind instead; an interrupted ingest is crash-safe (README, RELIABILITY.md)."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
               ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as e:  # handed to the awaiting coroutine
                    future.set_exception(e)

        threading.Thread(target=run, name="paperchat-call", daemon=True).start()
        return future


class PaperchatApp(App[None]):
    """Chat with the paper collection through a `ChatClient`."""

    TITLE = "paperchat"
    # The chat screen's CSS is listed here: as the default screen (get_default_screen) its
    # own CSS_PATH is never loaded by Textual.
    CSS_PATH: ClassVar[CSSPathType | None] = [
        "app.tcss", "screens/chat.tcss", *(str(p) for p in sorted(WIDGETS.glob("*.tcss")))]
    BINDINGS: ClassVar[list[BindingType]] = [k.binding() for k in APP_KEYS]

    def __init__(self, client: ChatClient, *, data_dir: Path, resume_last: bool = True
                 ) -> None:
        super().__init__()
        self.client = client
        self.data_dir = data_dir
        self.resume_last = resume_last

    def on_load(self) -> None:
        asyncio.get_running_loop().set_default_executor(DaemonThreads())

    def get_default_screen(self) -> Screen:
        return ChatScreen(self.client, export_dir=self.data_dir / "exports",
                          clipboard_file=self.data_dir / "last-answer.md",
                          resume_last=self.resume_last)

    @property
    def chat(self) -> ChatScreen:
        return next(s for s in self.screen_stack if isinstance(s, ChatScreen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key's action is also a palette command."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, ChatScreen):
            for key in CHAT_KEYS:
                yield SystemCommand(key.title, f"{key.help} ({key.keys})",
                                    partial(screen.run_action, key.action))
        yield SystemCommand("Help", "Show every key (f1)", self.action_help)

    def action_help(self) -> None:
        """F1: the key list (F1 again closes it)."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Quit now: an answer in flight is cancelled, not waited for."""
        self.chat.cancel_answer()
        self.exit()

    async def on_unmount(self) -> None:
        await self.client.aclose()
