"""`paperchat serve`: settings from flags and environment, uvicorn on the chosen address."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from paperchat.main import app
from rag.library import Library
from rag.settings import Settings
from tests.utils.chroma_server import free_port, wait_until_ready


def test_flags_reach_settings_and_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.setenv("PAPERCHAT_SERVER_MAX_QUESTION_CHARS", "123")
    result = CliRunner().invoke(app, ["serve", "--port", "8123", "--collection", "other"])
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)
    settings = call["app"].state.settings
    assert settings.collection == "other" and settings.server.port == 8123
    assert settings.server.max_question_chars == 123
    assert "warning" not in result.output


def test_public_bind_without_api_key_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 0 and "without PAPERCHAT_API_KEY" in result.output
    monkeypatch.setenv("PAPERCHAT_API_KEY", "k" * 24)
    quiet = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert "without PAPERCHAT_API_KEY" not in quiet.output


def test_serve_runs_the_api(settings: Settings, library: Library) -> None:
    port = free_port()
    env = {**os.environ, "PAPERCHAT_HOME": str(settings.home)}
    proc = subprocess.Popen([sys.executable, "-m", "paperchat", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", proc, 60, ok=(200, 503))
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
        assert ready.status_code == 200 and ready.json()["papers"] == 12
    finally:
        proc.terminate()
        proc.wait(timeout=15)  # uvicorn drains and exits on SIGTERM (then re-raises it)


def test_serve_on_a_taken_port_says_so_and_exits_2(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "PAPERCHAT_HOME": str(settings.home)}
        proc = subprocess.run([sys.executable, "-m", "paperchat", "serve", "--port", str(port)],
                              env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr
    assert "Traceback" not in proc.stderr
