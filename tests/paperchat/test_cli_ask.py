"""`paperchat ask`: first-run ingest, JSON contract, the LLM path over real HTTP, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.chroma_server import free_port
from tests.utils.fake_openai import fake_openai_server

pytestmark = pytest.mark.slow  # each one a CLI process with a first-run ingest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"question", "answer", "citations", "refused", "engine", "degraded", "usage", "timings"}


def ask(*args: str, home: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PAPERCHAT_HOME": str(home), "PAPERCHAT_EMBED_PROVIDER": "fake",
            "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "paperchat", "ask", *args], cwd=ROOT,
                          env=full, capture_output=True, text=True, timeout=300)


def test_first_ask_ingests_the_bundled_collection_and_answers_with_citations(
        tmp_path: Path) -> None:
    proc = ask("What Dice score did GynBTNet reach for the CTV in brachytherapy?", "--json",
               home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= KEYS and data["engine"] == "extractive" and not data["refused"]
    assert "0.837" in data["answer"]
    assert data["citations"] and {"n", "paper_id", "title", "snippet", "support"} <= set(
        data["citations"][0])
    assert any("Brachytherapy" in c["title"] for c in data["citations"])


def test_questions_file_gives_one_answer_per_line(tmp_path: Path) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"id": "x", "question": "graph neural network pretraining"}\n'
                     '{"id": "y", "question": "Portuguese T5 continued pretraining"}\n')
    proc = ask("--questions", str(qfile), "--json", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["x", "y"] and all(set(r) >= KEYS for r in rows)


def test_llm_engine_over_real_http(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with fake_openai_server(default_reply="GynBTNet reached a DSC of 0.837 for CTV [1].") as fake:
        proc = ask("What Dice score did GynBTNet reach for the CTV in brachytherapy?", "--json",
                   home=home,
                   env={"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-secret-123"})
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["engine"] == "llm" and "0.837" in data["answer"]
        assert data["citations"][0]["n"] == 1
        assert len(fake.chat_requests) == 1
        sent = json.dumps(fake.chat_requests[0])
        assert "GynBTNet" in sent  # the retrieved abstract went into the prompt


def test_unreachable_llm_without_fallback_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    proc = ask("What Dice score did GynBTNet reach for the CTV in brachytherapy?",
               "--engine", "llm",
               home=tmp_path / "home",
               env={"PAPERCHAT_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
                    "PAPERCHAT_LLM_API_KEY": "sk-secret-123",
                    "PAPERCHAT_LLM_FALLBACK_EXTRACTIVE": "false",
                    "PAPERCHAT_LLM_MAX_RETRIES": "0", "PAPERCHAT_LLM_TIMEOUT": "5"})
    assert proc.returncode == 6, proc.stderr
    assert f"127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr
    assert "sk-secret-123" not in proc.stderr + proc.stdout
