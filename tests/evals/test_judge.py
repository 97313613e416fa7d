"""The LLM judge over real HTTP against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from evals.judge import Judge, JudgeError, parse_json
from paperchat.main import app
from rag.answer.models import Answer
from rag.embedders.fake import HashingEmbedder
from rag.library import Library
from rag.models import SearchHit
from rag.settings import Settings
from tests.evals.conftest import QA_SUITE
from tests.utils.fake_openai import FakeOpenAI, fake_openai_server

QUESTION = "What accuracy does the masked autoencoder reach?"
GENERATED = [QUESTION, "Which model masks image patches?"]


def _reply(body: dict[str, Any]) -> str:
    """Answer each judge prompt the way a cooperative model would."""
    prompt = body["messages"][-1]["content"]
    if "break every sentence" in prompt:
        return '```json\n{"statements": ["MAE reaches 87.8% top-1.", "MAE uses CNNs.", ' \
               '"MAE masks 75% of patches."]}\n```'
    if "judge the faithfulness" in prompt:
        return json.dumps({"verdicts": [{"statement": "s", "reason": "r", "verdict": v}
                                        for v in (1, 0, 1)]})
    if "questions that the given answer answers" in prompt:
        return "Here you go: " + json.dumps({"questions": GENERATED})
    return "unexpected prompt"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai_server(default_reply=_reply) as server:
        yield server


def _settings(tmp_path: Path, base_url: str) -> Settings:
    return Settings(home=tmp_path, embed={"provider": "fake"},  # type: ignore[arg-type]
                    llm={"base_url": base_url, "max_retries": 0})  # type: ignore[arg-type]


def _answer() -> Answer:
    hit = SearchHit(rank=1, paper_id="mae", title="Masked Autoencoders", score=1.0, snippet="snip",
                    abstract="MAE masks 75% of patches and reaches 87.8% top-1.")
    return Answer(question=QUESTION, answer="MAE reaches 87.8% top-1 [1]. It uses CNNs [1].",
                  sources=[hit])


def test_faithfulness_and_answer_relevance(tmp_path: Path, fake: FakeOpenAI) -> None:
    embedder = HashingEmbedder()
    judge = Judge(_settings(tmp_path, fake.base_url), embedder, n_questions=2)
    scores = judge.score(QUESTION, _answer())
    assert scores["faithfulness"] == pytest.approx(2 / 3)
    assert [c["supported"] for c in scores["claims"]] == [True, False, True]
    q = embedder.embed_query(QUESTION)
    expected = float(np.mean([embedder.embed_documents([g])[0] @ q for g in GENERATED]))
    assert scores["answer_relevance"] == pytest.approx(expected)
    assert 0 < expected < 1  # one paraphrase is not the question itself
    prompts = [r["messages"][-1]["content"] for r in fake.chat_requests]
    assert len(prompts) == 3
    assert "[1]" not in prompts[0].split("Answer:")[1]  # citation markers stripped
    assert "reaches 87.8% top-1" in prompts[1] and "Masked Autoencoders" in prompts[1]
    assert "Write 2 different questions" in prompts[2]


def test_unusable_reply_or_failure_is_recorded_not_fatal(tmp_path: Path) -> None:
    with fake_openai_server(default_reply="I cannot do that.") as server:
        judge = Judge(_settings(tmp_path, server.base_url), HashingEmbedder())
        row = judge.score(QUESTION, _answer())
        assert row["faithfulness"] is None and "no JSON object" in row["judge_error"]
        server.fail(500)
        row = judge.score(QUESTION, _answer())
        assert "server error (500)" in row["judge_error"]


def test_parse_json_rejects_wrong_shapes() -> None:
    assert parse_json('noise {"a": [1]} noise') == {"a": [1]}
    with pytest.raises(JudgeError, match="invalid JSON"):
        parse_json('{"a": }')


def test_eval_qa_judge_end_to_end(qa_library: Library, fake: FakeOpenAI, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERCHAT_LLM_BASE_URL", fake.base_url)
    monkeypatch.setenv("PAPERCHAT_LLM_MAX_RETRIES", "0")
    result = CliRunner().invoke(app, ["eval", "qa", str(QA_SUITE), "--engine", "extractive",
                                      "--judge", "--json", "--out", str(tmp_path / "r"),
                                      "--min", "faithfulness=0.5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["judge"] and data["engine"] == "extractive"
    assert data["metrics"]["faithfulness"] == pytest.approx(2 / 3)
    assert 0 < data["metrics"]["answer_relevance"] <= 1
    judged = [r for r in data["per_question"] if not r["refused"]]
    assert judged and all(r["faithfulness"] == pytest.approx(2 / 3) for r in judged)
    assert len(fake.chat_requests) == 3 * len(judged)  # extractive answers: judge calls only


def test_judge_needs_an_endpoint_and_judge_metrics_need_judge(qa_library: Library) -> None:
    from rag.errors import ConfigError, InputError

    result = CliRunner().invoke(app, ["eval", "qa", str(QA_SUITE), "--judge"])
    assert isinstance(result.exception, ConfigError)
    assert "--judge needs an LLM endpoint" in str(result.exception)
    result = CliRunner().invoke(app, ["eval", "qa", str(QA_SUITE), "--min",
                                      "answer_relevance=0.5"])
    assert isinstance(result.exception, InputError)
    assert "answer_relevance is only measured with --judge" in str(result.exception)


@pytest.mark.parametrize("reply", ['{"verdicts": ' + "[" * 3000 + "]" * 3000 + "}",
                                   '{"questions": ' + "9" * 5000 + "}"])
def test_unparseable_json_numbers_and_nesting_are_judge_errors(reply: str) -> None:
    """json.loads raises RecursionError / ValueError (not JSONDecodeError) for these."""
    with pytest.raises(JudgeError, match="invalid JSON in the judge's reply"):
        parse_json(reply)
