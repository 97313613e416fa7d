"""A withdrawn answer in the terminal chat: the `reset` event clears the streamed text at
once, the replacement streams in its place, and the note says why. Also the real in-process
stack with a fake LLM whose answer the grounding guard rejects."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from rag.answer.events import DoneEvent, Event, ResetEvent, TokenEvent
from rag.settings import Settings
from tests.tui.conftest import SIZE, ask, toasts, wait_for
from tests.tui.fakes import ANSWER, FakeClient, script
from tests.utils.fake_openai import fake_openai_server
from tui.client import InProcessClient
from tui.widgets.answer_view import note

WITHDRAWN = "Pretraining is mostly about bananas, the weather and luck."
NOTICE = ("The model's answer cited none of the retrieved papers, so it was withdrawn. This "
          "is an extractive answer built from the retrieved abstracts instead.")


def withdrawn_script() -> list[Event]:
    events = script()
    sources, tokens, tail = events[0], events[1:-2], events[-2:]
    done = {**tail[1].data, "degraded": True, "notice": NOTICE, "usage": {}}
    return [sources, TokenEvent(text=WITHDRAWN), ResetEvent(reason=NOTICE), *tokens, tail[0],
            DoneEvent.model_validate(done)]


async def test_reset_clears_the_streamed_text_before_the_replacement(make_app) -> None:
    gate = asyncio.Event()
    client = FakeClient(withdrawn_script(), gate=gate, gate_after=3)  # after 1st new token
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ask(pilot, "How does pretraining help?", wait=False)
        view = screen.conversation.answers[0]
        await wait_for(pilot, lambda: bool(view.markdown.source))
        await wait_for(pilot, lambda: view.markdown.source.startswith(ANSWER[:12]), timeout=5)
        assert WITHDRAWN not in view.markdown.source and WITHDRAWN not in view.record.text
        gate.set()
        await wait_for(pilot, lambda: not screen.answering)
        await pilot.pause()
        assert view.record.done and view.record.text == ANSWER
        assert view.markdown.source == ANSWER
        assert NOTICE in str(note(view.record))
        assert any(NOTICE in t for t in toasts(app, "warning"))
        assert "tokens" not in screen.status_bar.last_text  # usage {}: no model count


async def test_in_process_llm_answer_withdrawn_by_the_guard(make_app, bundled_fake_home: Path,
                                                            tmp_path: Path) -> None:
    home = Path(shutil.copytree(bundled_fake_home, tmp_path / "home"))
    with fake_openai_server(default_reply=WITHDRAWN) as llm:
        settings = Settings(home=home, embed={"provider": "fake"},  # type: ignore[arg-type]
                            llm={"base_url": llm.base_url, "max_retries": 0},  # type: ignore[arg-type]
                            answer={"guard": True})  # type: ignore[arg-type]
        app = make_app(InProcessClient(settings))
        async with app.run_test(size=SIZE) as pilot:
            screen = await ask(pilot, "How does self-supervised pretraining help medical "
                               "image segmentation?")
            view = screen.conversation.answers[0]
            record = view.record
            assert record.done and record.degraded and record.engine == "extractive"
            assert WITHDRAWN not in view.markdown.source
            assert view.markdown.source == record.text and record.citations
            assert "cited none of the retrieved papers" in str(note(record))
            assert "tokens" in screen.status_bar.last_text  # the model ran: it is counted
        assert len(llm.chat_requests) == 1
