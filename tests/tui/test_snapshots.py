"""The main screen with an answer and its sources, at a fixed size (scripted client)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from tests.tui.conftest import ask, wait_for
from tests.tui.fakes import FakeClient
from tui.app import PaperchatApp

SIZE = (120, 36)


def make(tmp_path: Path) -> PaperchatApp:
    return PaperchatApp(FakeClient(), data_dir=tmp_path / "data")


async def answered(pilot: Pilot) -> None:
    screen = await ask(pilot, "Does masked pretraining help segmentation?")
    screen.prompt.cursor_blink = False  # a blinking cursor would make the snapshot flaky
    await pilot.pause()


def test_answer_with_sources(snap_compare, tmp_path) -> None:
    assert snap_compare(make(tmp_path), terminal_size=SIZE, run_before=answered)


def test_answer_with_an_expanded_abstract(snap_compare, tmp_path) -> None:
    async def expand(pilot: Pilot) -> None:
        await answered(pilot)
        item = pilot.app.chat.sources.items[0]  # type: ignore[attr-defined]
        item.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: item.abstract is not None)
        await pilot.pause()

    assert snap_compare(make(tmp_path), terminal_size=SIZE, run_before=expand)
