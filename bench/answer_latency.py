"""Answer-layer latency on the bundled collection (issue 3 targets).

Run:  python bench/answer_latency.py [--rounds 2] [--cold-runs 3] [--home DIR]

In one process, with the real MiniLM model and the bundled QA suite's answerable questions:
- llm engine: time from calling Assistant.stream to the chat request arriving at a local
  OpenAI-compatible fake server (retrieval + refusal check + prompt build + HTTP send);
- extractive engine: whole answer time, first sight of each question (round 1) and warm
  (round 2+, sentence vectors cached);
- one-shot `paperchat ask "..." --json` wall time from a cold process (median), next to the
  one-shot `paperchat search` wall time.
Prints a Markdown table and writes bench/results/answer_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--home", type=Path, default=None, help="data dir to use (the bundled "
                    "collection is synced into it; default: a fresh temporary one)")
    args = ap.parse_args()

    from ingest.pipeline import ingest_paths
    from rag.answer.service import Assistant
    from rag.library import Library
    from rag.settings import Settings
    from tests.utils.fake_openai import fake_openai_server

    home = args.home or Path(tempfile.mkdtemp(prefix="paperchat-answer-bench-"))
    base = Settings(home=home)
    library = Library(base)
    ingest_paths(library, [])
    suite = ROOT / "evals" / "suites" / "bundled_qa.jsonl"
    rows = [json.loads(line) for line in suite.read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows if r["kind"] != "none"]
    results: dict[str, object] = {"questions": len(questions), "cores": os.cpu_count()}

    extractive = Assistant(base, library)
    for rnd in range(1, args.rounds + 1):
        lat = []
        for q in questions:
            t0 = time.perf_counter()
            extractive.ask(q, engine="extractive")
            lat.append((time.perf_counter() - t0) * 1000)
        label = "first_sight" if rnd == 1 else f"warm{rnd}"
        results[f"extractive_{label}_p50_ms"] = statistics.median(lat)
        results[f"extractive_{label}_p95_ms"] = float(np.quantile(lat, 0.95, method="nearest"))

    arrivals: list[float] = []

    def reply(_body: dict[str, object]) -> str:
        arrivals.append(time.perf_counter())
        return "The sources discuss this [1]."

    with fake_openai_server(default_reply=reply) as fake:
        # The reply is a placeholder the grounding guard would withdraw after the measured
        # request (then answer extractively): keep it out of the loop.
        llm_settings = base.with_overrides(llm__base_url=fake.base_url, answer__guard=False)
        llm = Assistant(llm_settings, library)
        llm.ask(questions[0], engine="llm")  # warm the client's connection pool
        first_request = []
        for q in questions:
            before = len(arrivals)
            t0 = time.perf_counter()
            for _event in llm.stream(q, engine="llm"):
                pass
            if len(arrivals) > before:  # refused questions make no request
                first_request.append((arrivals[before] - t0) * 1000)
        results["llm_requests"] = len(first_request)
        results["llm_first_request_p50_ms"] = statistics.median(first_request)
        results["llm_first_request_p95_ms"] = float(
            np.quantile(first_request, 0.95, method="nearest"))

    env = {**os.environ, "PAPERCHAT_HOME": str(home)}
    for name, cmd in (("ask", ["ask", "what Dice score did the brachytherapy model reach?",
                               "--json"]),
                      ("search", ["search", "brachytherapy dice score", "--json"])):
        walls = []
        for _ in range(args.cold_runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "paperchat", *cmd], cwd=ROOT, env=env,
                           check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
        results[f"cli_{name}_wall_median_s"] = statistics.median(walls)

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "answer_latency.json").write_text(json.dumps(results, indent=2))
    print("| metric | value |\n|---|---|")
    for key, value in results.items():
        print(f"| {key} | {value:.1f} |" if isinstance(value, float) else f"| {key} | {value} |")


if __name__ == "__main__":
    main()
