"""bench/soak.py runs end to end (a few seconds, fake embedder): the 10-minute soak with
MiniLM is a script whose last figures are in RELIABILITY.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.procs import ROOT

pytestmark = pytest.mark.slow  # runs bench/soak.py


def test_soak_script_short_run(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "0.1", "--embed", "fake",
         "--concurrency", "2", "--ingest-every", "2", "--window", "3", "--warmup", "1",
         "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["errors"] == 0 and result["requests"] > 50
    assert len(result["ingests"]) >= 2 and all("papers" in i for i in result["ingests"])
    papers = [i["papers"] for i in result["ingests"]]
    assert papers == sorted(papers) and papers[-1] - papers[0] == 5 * (len(papers) - 1)
    assert result["rss_mb"]["after_warmup"] and result["fds"]["end"]
    assert {"ask", "stream", "search"} <= set(result["windows"][0])
    assert "| minute | requests |" in done.stdout
