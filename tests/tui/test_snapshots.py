"""The main screen with an answer and its sources, at a fixed size (scripted client)."""

from __future__ import annotations

from pathlib import Path

import pytest
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


# Issue 14: the two sizes a terminal chat is used at; 80×24 hides the sources panel.
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((150, 45), id="150x45")]


@pytest.mark.parametrize("size", SIZES)
def test_answer_at_both_sizes(snap_compare, tmp_path, size) -> None:
    assert snap_compare(make(tmp_path), terminal_size=size, run_before=answered)


def test_sources_stacked_under_the_chat_at_80x24(snap_compare, tmp_path) -> None:
    async def stacked(pilot: Pilot) -> None:
        await answered(pilot)
        await pilot.press("ctrl+b")
        await pilot.pause()

    assert snap_compare(make(tmp_path), terminal_size=(80, 24), run_before=stacked)


@pytest.mark.parametrize("size", SIZES)
def test_help_at_both_sizes(snap_compare, tmp_path, size) -> None:
    async def help_open(pilot: Pilot) -> None:
        await answered(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")
        await pilot.pause()

    assert snap_compare(make(tmp_path), terminal_size=size, run_before=help_open)
