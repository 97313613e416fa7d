"""LLM failures over real HTTP: clear messages naming the endpoint, retries, no secrets,
no tracebacks, and the degraded extractive fallback."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from rag.answer.service import Assistant
from rag.errors import LLMUnavailable
from tests.rag.conftest import TEST_KEY
from tests.utils.fake_openai import FakeOpenAI

QUESTION = "Which papers pretrain vision transformers, and on what images?"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_clean(message: str, endpoint: str) -> None:
    assert endpoint in message
    assert TEST_KEY not in message and "SECRET" not in message
    assert "Traceback" not in message and "\n" not in message


def test_timeout(make_assistant: Callable[..., Assistant], fake_openai: FakeOpenAI) -> None:
    fake_openai.delay = 0.5
    assistant = make_assistant(llm__timeout=0.2, llm__fallback_extractive=False)
    with pytest.raises(LLMUnavailable) as info:
        assistant.ask(QUESTION)
    msg = str(info.value)
    _assert_clean(msg, fake_openai.base_url)
    assert "did not answer within 0.2 s" in msg and "PAPERCHAT_LLM_TIMEOUT" in msg
    assert info.value.endpoint == fake_openai.base_url


def test_unauthorized_never_shows_the_key(make_assistant: Callable[..., Assistant],
                                          fake_openai: FakeOpenAI) -> None:
    fake_openai.api_key = "sk-the-right-key"  # ours is wrong; the server echoes what it got
    assistant = make_assistant(llm__fallback_extractive=False, llm__max_retries=2)
    with pytest.raises(LLMUnavailable) as info:
        assistant.ask(QUESTION)
    msg = str(info.value)
    _assert_clean(msg, fake_openai.base_url)
    assert "401" in msg and "OPENAI_API_KEY" in msg
    assert info.value.status == 401
    assert len(fake_openai.chat_requests) == 1  # 401 is not retried
    events = list(assistant.stream(QUESTION))
    assert [e.type for e in events] == ["sources", "error"]
    assert events[-1].data["code"] == "llm_unavailable"
    _assert_clean(events[-1].data["message"], fake_openai.base_url)


def test_rate_limit_is_retried_then_succeeds(make_assistant: Callable[..., Assistant],
                                             fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(429, times=2)
    fake_openai.queue("Vision transformers are pretrained on images [1].")
    answer = make_assistant(llm__max_retries=2, llm__fallback_extractive=False).ask(QUESTION)
    assert not answer.degraded and answer.engine == "llm"
    assert answer.answer == "Vision transformers are pretrained on images [1]."
    assert len(fake_openai.chat_requests) == 3


def test_rate_limit_exhausted(make_assistant: Callable[..., Assistant],
                              fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(429, times=5)
    with pytest.raises(LLMUnavailable) as info:
        make_assistant(llm__max_retries=1, llm__fallback_extractive=False).ask(QUESTION)
    msg = str(info.value)
    _assert_clean(msg, fake_openai.base_url)
    assert "429" in msg and "after 1 retry" in msg and "quota" in msg
    assert len(fake_openai.chat_requests) == 2


def test_server_error(make_assistant: Callable[..., Assistant],
                      fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(500, times=3)
    with pytest.raises(LLMUnavailable) as info:
        make_assistant(llm__max_retries=2, llm__fallback_extractive=False).ask(QUESTION)
    msg = str(info.value)
    _assert_clean(msg, fake_openai.base_url)
    assert "server error (500)" in msg and "after 2 retries" in msg and "gpt-4o-mini" in msg
    assert len(fake_openai.chat_requests) == 3


def test_connection_refused(make_assistant: Callable[..., Assistant]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    assistant = make_assistant(llm__base_url=url, llm__fallback_extractive=False)
    with pytest.raises(LLMUnavailable) as info:
        assistant.ask(QUESTION)
    msg = str(info.value)
    _assert_clean(msg, url)
    assert "could not connect" in msg and "server is running" in msg


def test_credentials_in_base_url_are_not_shown(make_assistant: Callable[..., Assistant],
                                               fake_openai: FakeOpenAI) -> None:
    url = fake_openai.base_url.replace("http://", "http://user:SECRET-pw@")
    fake_openai.fail(500, times=1)
    with pytest.raises(LLMUnavailable) as info:
        make_assistant(llm__base_url=url, llm__fallback_extractive=False).ask(QUESTION)
    _assert_clean(str(info.value), fake_openai.base_url)


def test_degraded_fallback_to_extractive(make_assistant: Callable[..., Assistant],
                                         fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(500, times=10)
    assistant = make_assistant(llm__fallback_extractive=True)
    answer = assistant.ask(QUESTION)
    assert answer.degraded and answer.engine == "extractive" and not answer.refused
    assert answer.notice and fake_openai.base_url in answer.notice
    assert "extractive answer" in answer.notice and TEST_KEY not in answer.notice
    assert answer.citations and answer.answer.endswith("].")
    data = answer.model_dump(mode="json")
    assert data["degraded"] is True and data["notice"] == answer.notice
    events = list(assistant.stream(QUESTION))
    assert events[0].type == "sources" and events[-1].type == "done"
    assert events[-1].data["degraded"] is True
    text = "".join(e.data["text"] for e in events if e.type == "token")
    assert text == events[-1].data["answer"]


def test_condense_failure_also_degrades(make_assistant: Callable[..., Assistant],
                                        fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(503, times=10)
    history = [{"role": "user", "content": "Which papers use raw audio?"},
               {"role": "assistant", "content": "wav2vec does [1]."}]
    answer = make_assistant().ask("what error rate did they reach?", history=history)
    assert answer.degraded and answer.engine == "extractive"
    assert answer.citations[0].paper_id == "wav2vec"
    assert len(fake_openai.chat_requests) == 1  # the condense call; no answer call after it


def test_stream_cut_after_tokens_is_an_error_not_a_mixed_answer(
        make_assistant: Callable[..., Assistant], fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("Vision transformers are pretrained on many kinds of images [1].")
    fake_openai.cut_stream_after = 3
    events = list(make_assistant(llm__fallback_extractive=True).stream(QUESTION))
    types = [e.type for e in events]
    assert types[0] == "sources" and "token" in types and types[-1] == "error"
    assert "done" not in types
    message = events[-1].data["message"]
    assert "broke off" in message
    _assert_clean(message, fake_openai.base_url)


@pytest.mark.parametrize(("status", "expected"), [
    (400, "rejected the request (400): injected failure 400"),
    (403, "403 Forbidden"),
    (404, "404 Not Found for model 'gpt-4o-mini'"),
])
def test_other_statuses_name_what_to_check(make_assistant: Callable[..., Assistant],
                                           fake_openai: FakeOpenAI, status: int,
                                           expected: str) -> None:
    fake_openai.fail(status, times=3)
    with pytest.raises(LLMUnavailable) as info:
        make_assistant(llm__max_retries=2, llm__fallback_extractive=False).ask(QUESTION)
    msg = str(info.value)
    _assert_clean(msg, fake_openai.base_url)
    assert expected in msg and "PAPERCHAT_LLM_MODEL" in msg
    assert info.value.status == status
    assert len(fake_openai.chat_requests) == 1  # 4xx other than 429 are not retried
