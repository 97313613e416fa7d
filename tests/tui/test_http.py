"""`--server`: a closed port fails cleanly; a real `paperchat serve` gives the same flow."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.widgets import OptionList

from rag.settings import Settings
from tests.tui.conftest import SIZE, ask, ready, toasts, wait_for
from tests.tui.test_sessions import open_sessions
from tests.utils.chroma_server import free_port, stop_process, wait_until_ready
from tests.utils.fake_openai import FakeOpenAI, fake_openai_server
from tui.client import HttpClient
from tui.screens.sessions import SessionsScreen

ROOT = Path(__file__).resolve().parents[2]


async def test_server_down_is_a_toast_and_an_inline_error_never_a_crash(make_app,
                                                                      settings) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = make_app(HttpClient(url, settings, connect_timeout=2))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.status_bar.engine_text.startswith("not ready: cannot reach")
        assert any(url in t for t in toasts(app, "error"))
        screen = await ask(pilot, "is anyone there?")
        view = screen.conversation.answers[0]
        assert "cannot reach the paperchat server" in str(view.query_one(".answer-note").render())
        assert screen.prompt.text == "is anyone there?"
        assert screen.prompt.has_focus and not screen.prompt.disabled
        before = len(toasts(app, "error"))
        await pilot.press("ctrl+s")  # the session list cannot load either: a toast, no crash
        await pilot.pause(0.3)
        assert len(toasts(app, "error")) > before
        await pilot.press("escape")
        assert app.is_running


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)


def serve(home: Path, log: Path, **env: str) -> Iterator[Served]:
    """`paperchat serve` in a subprocess over `home` (fake embedder), stopped afterwards."""
    port = free_port()
    env = {**os.environ, "PAPERCHAT_HOME": str(home), "PAPERCHAT_EMBED_PROVIDER": "fake", **env}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperchat", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT)
    server = Served(f"http://127.0.0.1:{port}", proc)
    try:
        try:
            wait_until_ready(f"{server.url}/readyz", proc, timeout=60)
        except RuntimeError as e:
            pytest.fail(f"{e}\n{log.read_text(errors='replace')}")
        yield server
    finally:
        if proc.poll() is None:
            server.resume()
        stop_process(proc)


@pytest.fixture
def served(bundled_fake_home: Path, tmp_path: Path) -> Iterator[Served]:
    """A real server over a copy of the bundled collection, extractive engine."""
    home = shutil.copytree(bundled_fake_home, tmp_path / "server-home")
    yield from serve(home, tmp_path / "serve.log")


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible endpoint that streams a long reply slowly."""
    reply = " ".join(["Graph pretraining transfers across molecules [1]."] * 60)
    with fake_openai_server(default_reply=reply) as fake:
        fake.chunk_delay = 0.05
        yield fake


@pytest.fixture
def served_llm(bundled_fake_home: Path, tmp_path: Path, llm: FakeOpenAI) -> Iterator[Served]:
    """A real server whose llm engine streams from `llm`."""
    home = shutil.copytree(bundled_fake_home, tmp_path / "server-home")
    yield from serve(home, tmp_path / "serve.log", PAPERCHAT_LLM_BASE_URL=llm.base_url,
                     PAPERCHAT_LLM_API_KEY="test-key", PAPERCHAT_LLM_MODEL="fake-model",
                     PAPERCHAT_LLM_MAX_RETRIES="0")


@pytest.mark.slow  # a real server process
async def test_same_flow_against_a_real_server(make_app, served, tmp_path) -> None:
    client = HttpClient(served.url, Settings(home=tmp_path / "client-home"))
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.status_bar.engine_text == \
            f"extractive · fake-hashing-384 · 119 papers @ {served.url}"
        screen = await ask(pilot, "How does self-supervised pretraining help medical image "
                           "segmentation?")
        view = screen.conversation.answers[0]
        assert view.record.done and view.record.error is None, view.record.error
        assert view.record.citations and "[1]" in view.markdown.source
        assert [i.paper_id for i in screen.sources.items if i.cited] == \
            [c["paper_id"] for c in view.record.citations]

        sessions = await open_sessions(pilot)
        assert [s.id for s in sessions.sessions] == [screen.session_id]
        assert sessions.sessions[0].message_count == 2
        await pilot.press("escape")
        await pilot.pause()

        first = screen.sources.items[0]
        first.focus()
        await pilot.press("enter")  # the abstract comes from GET /v1/papers/{id}
        await wait_for(pilot, lambda: first.abstract is not None)
        assert first.abstract and len(first.abstract) > len(first.source.get("snippet", ""))

        await pilot.press("ctrl+e")
        exports = tmp_path / "data" / "exports"
        await wait_for(pilot, lambda: exports.is_dir() and any(exports.iterdir()))
        (path,) = exports.iterdir()
        text = path.read_text(encoding="utf-8")
        assert "## References" in text and "```bibtex" in text
        assert view.record.citations[0]["title"] in text

        # A new session, then the first one resumed, renamed and deleted through the server.
        first_id, answer = screen.session_id, view.record.text
        await pilot.press("ctrl+n")
        await ask(pilot, "Which papers pretrain graph neural networks?")
        second_id = screen.session_id
        assert second_id not in (None, first_id)
        sessions = await open_sessions(pilot)
        assert [s.id for s in sessions.sessions] == [second_id, first_id]
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.session_id == first_id
                       and len(screen.conversation.answers) == 1)
        await pilot.pause()
        assert screen.conversation.answers[0].markdown.source == answer
        assert [i.paper_id for i in screen.sources.items if i.cited] == \
            [c["paper_id"] for c in view.record.citations]

        sessions = await open_sessions(pilot)  # opens on the current session, the first
        await pilot.press("r")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RenameScreen")
        app.screen.query_one("Input").value = "Medical segmentation"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is sessions and sessions.sessions[0].title
                       == "Medical segmentation")
        await pilot.pause()
        await pilot.press("d", "d")
        await wait_for(pilot, lambda: [s.id for s in sessions.sessions] == [second_id])
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen and screen.session_id is None)


def note(screen) -> str:
    return str(screen.conversation.answers[-1].query_one(".answer-note").render())


@pytest.mark.slow  # a real server process
async def test_a_server_that_stalls_then_stops_mid_session(make_app, served, tmp_path) -> None:
    """Timeout, recovery, then connection refused: each time an inline error and a toast,
    the question back in the prompt, and the chat goes on."""
    client = HttpClient(served.url, Settings(home=tmp_path / "client-home"), read_timeout=3)
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "Which papers pretrain graph neural networks?")
        assert screen.conversation.answers[-1].record.done

        served.pause()  # accepts connections, answers nothing: the read timeout fires
        screen = await ask(pilot, "and which are about speech?")
        assert "did not answer in time" in note(screen)
        assert any("did not answer in time" in t for t in toasts(app, "error"))
        assert screen.prompt.text == "and which are about speech?"
        assert screen.prompt.has_focus and not screen.prompt.disabled
        assert screen.status_bar.engine_text == f"not ready: no answer from {served.url}"

        served.resume()  # the same prompt, sent again, is answered; the status comes back
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(screen.conversation.answers) == 3
                       and not screen.answering, timeout=60)
        await pilot.pause()
        assert screen.conversation.answers[-1].record.done, note(screen)
        assert screen.status_bar.engine_text.endswith(f"119 papers @ {served.url}")

        stop_process(served.proc)  # the server is gone: connection refused
        screen.prompt.set_text("")
        screen = await ask(pilot, "still there?")
        assert "cannot reach the paperchat server" in note(screen)
        assert any("cannot reach" in t for t in toasts(app, "error"))
        assert screen.prompt.text == "still there?"
        assert app.is_running


@pytest.mark.slow  # a real server process
async def test_escape_against_a_real_server_stops_the_llm_stream(make_app, served_llm, llm,
                                                                 tmp_path) -> None:
    client = HttpClient(served_llm.url, Settings(home=tmp_path / "client-home"))
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.status_bar.engine_text.startswith("llm · fake-model · 119 papers")
        screen = await ask(pilot, "Which papers pretrain graph networks?", wait=False)
        view = screen.conversation.answers[0]
        await wait_for(pilot, lambda: "[1]" in view.markdown.source)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.answering)
        await pilot.pause()
        assert view.record.cancelled and not view.record.done
        assert screen.prompt.text == "Which papers pretrain graph networks?"
        assert screen.prompt.has_focus
        # The server saw the client go and closed its stream to the LLM.
        assert llm.wait_for(lambda: llm.disconnects == 1, timeout=10)
        assert llm.completed_streams == 0
        assert await client.list_sessions() == []  # the unanswered session is not left behind


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (150, 45)], ids=["80x24", "150x45"])
async def test_a_server_killed_mid_answer_then_the_session_list(make_app, served_llm, llm,
                                                                tmp_path, size) -> None:
    """Clear words, not the HTTP library's, for a server lost mid-answer; the session list
    says it cannot be fetched rather than that there are no sessions."""
    question = "Which papers pretrain graph networks?"
    app = make_app(HttpClient(served_llm.url, Settings(home=tmp_path / "client-home")))
    async with app.run_test(size=size) as pilot:
        screen = await ask(pilot, question, wait=False)
        view = screen.conversation.answers[0]
        await wait_for(pilot, lambda: "[1]" in view.markdown.source, timeout=30)
        served_llm.proc.kill()  # SIGKILL mid-stream
        await wait_for(pilot, lambda: not screen.answering, timeout=30)
        await pilot.pause()
        assert f"the paperchat server at {served_llm.url} closed the connection mid-answer" in (
            note(screen))
        assert "peer closed" not in note(screen) and "chunked" not in note(screen)
        assert any("closed the connection mid-answer" in t for t in toasts(app, "error"))
        assert screen.prompt.text == question and "[1]" in view.markdown.source  # kept

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        options = app.screen.query_one(OptionList)
        await wait_for(pilot, lambda: options.option_count > 0)
        shown = str(options.get_option_at_index(0).prompt)
        assert shown.startswith("Cannot list sessions: cannot reach the paperchat server")
        assert any("Cannot list sessions" in t for t in toasts(app, "error"))
