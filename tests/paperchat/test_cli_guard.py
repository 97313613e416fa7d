"""`paperchat ask` with the grounding guard: the JSON answer is the extractive replacement,
and on a terminal the withdrawn text is marked as withdrawn before the replacement."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperchat import query
from rag.answer.events import (
    CitationsEvent,
    DoneEvent,
    Event,
    ResetEvent,
    SourcesEvent,
    TokenEvent,
)
from tests.paperchat.test_cli_ask import ask
from tests.utils.fake_openai import fake_openai_server

QUESTION = "What Dice score did GynBTNet reach for the CTV in brachytherapy?"
UNGROUNDED = "It reached a perfect score on every benchmark ever made."


@pytest.mark.slow  # a CLI subprocess: ~8 s idle, 30 s on a loaded machine
def test_ask_json_returns_the_replacement(bundled_fake_home: Path, tmp_path: Path) -> None:
    home = Path(shutil.copytree(bundled_fake_home, tmp_path / "home"))
    with fake_openai_server(default_reply=UNGROUNDED) as fake:
        proc = ask(QUESTION, "--json", home=home, env={
            "PAPERCHAT_LLM_BASE_URL": fake.base_url, "PAPERCHAT_ANSWER_GUARD": "true"})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["degraded"] is True and data["engine"] == "extractive"
    assert UNGROUNDED not in data["answer"] and "0.837" in data["answer"]
    assert "withdrawn" in data["notice"]


class _Scripted:
    def events(self, question: str, **kwargs: Any) -> Iterator[Event]:
        yield SourcesEvent(sources=[])
        yield TokenEvent(text=UNGROUNDED)
        yield ResetEvent(reason="the model's answer cited none of the papers")
        yield TokenEvent(text="GynBTNet reached 0.837 [1].")
        yield CitationsEvent(citations=[])
        yield DoneEvent(answer="GynBTNet reached 0.837 [1].", citations=[], engine="extractive",
                        timings={"total_ms": 5.0}, notice="withdrawn", degraded=True)


def test_terminal_stream_marks_the_withdrawn_text(capsys: pytest.CaptureFixture[str]) -> None:
    query._stream_answer(_Scripted(), QUESTION)
    out, err = capsys.readouterr()
    assert out == f"{UNGROUNDED}\nGynBTNet reached 0.837 [1].\n"
    assert "(withdrawn: the model's answer cited none of the papers)" in err
