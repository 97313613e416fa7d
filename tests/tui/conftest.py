"""Pilot helpers for the chat tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.notifications import SeverityLevel
from textual.pilot import Pilot

from tui.app import PaperchatApp
from tui.client import ChatClient
from tui.screens.chat import ChatScreen

SIZE = (120, 36)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[[ChatClient], PaperchatApp]:
    """An app over `client` whose exports and clipboard file go to tmp_path/data."""

    def make(client: ChatClient) -> PaperchatApp:
        app = PaperchatApp(client, data_dir=tmp_path / "data")
        shown: list[tuple[str, str, str]] = []
        notify = app.notify

        def recording_notify(message: str, *, title: str = "",
                             severity: SeverityLevel = "information", **kwargs: Any) -> None:
            shown.append((severity, title, message))
            notify(message, title=title, severity=severity, **kwargs)

        app.notify = recording_notify  # type: ignore[method-assign]  # record every toast
        app.shown_toasts = shown  # type: ignore[attr-defined]
        return app

    return make


def chat(app: PaperchatApp) -> ChatScreen:
    return app.chat


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds (fails the test after `timeout` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.01)


async def ready(pilot: Pilot) -> ChatScreen:
    screen = chat(pilot.app)  # type: ignore[arg-type]
    await asyncio.wait_for(screen.loaded.wait(), 30)
    await pilot.pause()
    return screen


async def ask(pilot: Pilot, question: str, *, wait: bool = True) -> ChatScreen:
    """Type a question, press Enter, and (by default) wait for the answer to end."""
    screen = await ready(pilot)
    screen.prompt.focus()
    screen.prompt.set_text(question)
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.answering or bool(screen.conversation.answers))
    if wait:
        await wait_for(pilot, lambda: not screen.answering, timeout=60)
        await pilot.pause()
    return screen


def toasts(app: PaperchatApp, severity: str | None = None) -> list[str]:
    """Every toast shown so far as "title: message" (optionally of one severity)."""
    return [f"{title}: {message}" for sev, title, message in app.shown_toasts  # type: ignore[attr-defined]
            if severity is None or sev == severity]
