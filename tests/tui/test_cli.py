"""`paperchat chat` options: help, and the combinations that cannot work."""

from __future__ import annotations

from typer.testing import CliRunner

from paperchat.main import app

runner = CliRunner()


def test_help_lists_server_and_collection() -> None:
    result = runner.invoke(app, ["chat", "--help"])
    assert result.exit_code == 0
    assert "--server" in result.output and "--collection" in result.output


def test_server_must_be_an_http_url() -> None:
    result = runner.invoke(app, ["chat", "--server", "localhost:8000"])
    assert result.exit_code == 2
    assert "http://" in result.output


def test_collection_is_refused_with_a_server() -> None:
    result = runner.invoke(app, ["chat", "--server", "http://127.0.0.1:9", "--collection", "x"])
    assert result.exit_code == 2
    assert "serves the collection it was started with" in result.output


def test_chat_builds_an_http_client_for_server(monkeypatch) -> None:
    from tui.app import PaperchatApp
    from tui.client import HttpClient

    started: list[object] = []
    monkeypatch.setattr(PaperchatApp, "run", lambda self: started.append(self.client))
    result = runner.invoke(app, ["chat", "--server", "http://127.0.0.1:9/"])
    assert result.exit_code == 0, result.output
    (client,) = started
    assert isinstance(client, HttpClient) and client.where == "http://127.0.0.1:9"


def test_chat_runs_in_process_on_the_named_collection(monkeypatch) -> None:
    from tui.app import PaperchatApp
    from tui.client import InProcessClient

    started: list[object] = []
    monkeypatch.setattr(PaperchatApp, "run", lambda self: started.append(self.client))
    result = runner.invoke(app, ["chat", "--collection", "notes"])
    assert result.exit_code == 0, result.output
    (client,) = started
    assert isinstance(client, InProcessClient) and client.settings.collection == "notes"
