"""`--server`: a closed port fails cleanly; a real `paperchat serve` gives the same flow."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.settings import Settings
from tests.tui.conftest import SIZE, ask, ready, toasts, wait_for
from tests.tui.test_sessions import open_sessions
from tui.client import HttpClient

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@pytest.fixture
def served(bundled_fake_home: Path, tmp_path: Path) -> Iterator[str]:
    """`paperchat serve` in a subprocess over a copy of the bundled collection (fake embedder)."""
    pytest.importorskip("server.app", reason="server/ (paperchat serve) is not there yet")
    home = shutil.copytree(bundled_fake_home, tmp_path / "server-home")
    port = free_port()
    env = {**os.environ, "PAPERCHAT_HOME": str(home), "PAPERCHAT_EMBED_PROVIDER": "fake"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperchat", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"paperchat serve exited with {proc.returncode}:\n{output}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("paperchat serve did not become ready in 60 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_same_flow_against_a_real_server(make_app, served, tmp_path) -> None:
    client = HttpClient(served, Settings(home=tmp_path / "client-home"))
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.status_bar.engine_text == \
            f"extractive · fake-hashing-384 · 119 papers @ {served}"
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
