"""The real in-process stack (Library, Assistant, SessionStore) with the fake embedder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.sessions import SessionStore
from rag.settings import Settings
from tests.tui.conftest import SIZE, ask, ready, toasts, wait_for
from tests.tui.test_sessions import open_sessions, questions
from tui.client import InProcessClient
from tui.widgets.status_bar import StatusBar

QUESTION = "How does self-supervised pretraining help medical image segmentation?"


@pytest.fixture
def home(bundled_fake_home: Path, tmp_path: Path) -> Path:
    """A private copy of the ingested bundled collection (sessions are written into it)."""
    return Path(shutil.copytree(bundled_fake_home, tmp_path / "home"))


def settings_for(home: Path) -> Settings:
    return Settings(home=home, embed={"provider": "fake"})  # type: ignore[arg-type]


async def test_first_run_ingests_the_bundled_collection_with_progress(make_app, tmp_path,
                                                                      monkeypatch) -> None:
    progress: list[tuple[int, int]] = []
    record = StatusBar.set_progress

    def spy(self: StatusBar, done: int, total: int) -> None:
        progress.append((done, total))
        record(self, done, total)

    monkeypatch.setattr(StatusBar, "set_progress", spy)
    app = make_app(InProcessClient(settings_for(tmp_path / "fresh")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.client_status is not None and screen.client_status.papers == 119
        assert screen.status_bar.engine_text.startswith("extractive · fake-hashing-384 · 119")
        assert any("First run: indexed the bundled collection (119 papers)" in t
                   for t in toasts(app))
        assert progress and progress[-1][0] == progress[-1][1] > 0
        assert not screen.query_one("#ingest").display  # the bar goes away when done


async def test_real_answer_is_cited_saved_and_resumable(make_app, home) -> None:
    app = make_app(InProcessClient(settings_for(home)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, QUESTION)
        view = screen.conversation.answers[0]
        record = view.record
        assert record.done and record.error is None, record.error
        assert record.citations and "[1]" in view.markdown.source
        cited = [i for i in screen.sources.items if i.cited]
        assert [i.paper_id for i in cited] == [c["paper_id"] for c in record.citations]
        assert screen.status_bar.last_text.startswith("last answer")
        sid = screen.session_id

    stored = SessionStore(home / "sessions.sqlite3").get(sid)
    assert [m.role for m in stored.messages] == ["user", "assistant"]
    assert stored.messages[1].content == record.text

    # A new process (a new app) resumes the session from the list.
    app = make_app(InProcessClient(settings_for(home)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await open_sessions(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(questions(screen)))
        await pilot.pause()
        assert questions(screen) == [QUESTION]
        assert screen.conversation.answers[0].markdown.source == record.text
        assert [i.paper_id for i in screen.sources.items if i.cited] == \
            [c["paper_id"] for c in record.citations]
