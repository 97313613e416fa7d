"""Ingest and search benchmarks on the bundled collection (issue 2 targets).

Run:  python bench/ingest_search.py [--runtime onnx|torch] [--queries 200] [--cold-runs 5]

Measures, in one run on this machine:
- cold ingest into an empty data dir (real MiniLM), and the embedding share of it;
- re-ingest of the unchanged collection (in-process and as a CLI process);
- warm search latency p50/p95 over N queries in one process;
- one-shot `paperchat search "..."` wall time from a cold process (median of runs);
- raw model throughput on the same chunk texts, and ingest overhead beyond embedding.
Prints a Markdown table and writes bench/results/ingest_search.json.
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


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent in embed_documents."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> object:
        t0 = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)  # type: ignore[attr-defined]
        finally:
            self.seconds += time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runtime", default="onnx", choices=["onnx", "torch"])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--cold-runs", type=int, default=5)
    args = ap.parse_args()

    from ingest.bundled import bundled_collection_path
    from ingest.parsers import parse_file
    from rag.chunking import Chunker
    from rag.embedders import make_embedder
    from rag.library import Library
    from rag.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="paperchat-bench-"))
    settings = Settings(home=home, embed={"provider": "minilm", "runtime": args.runtime})
    papers = parse_file(bundled_collection_path()).papers
    results: dict[str, object] = {"runtime": args.runtime, "papers": len(papers),
                                  "cores": os.cpu_count()}

    # Model load (and the one-off ONNX export) is measured apart from the ingest itself.
    t0 = time.perf_counter()
    embedder = make_embedder(settings)
    results["model_load_s"] = time.perf_counter() - t0
    chunks = Chunker(settings.chunk).chunk_many(papers)
    texts = [c.text for c in chunks]
    embedder.embed_documents(texts[:8])  # warm-up
    t0 = time.perf_counter()
    embedder.embed_documents(texts)
    raw = time.perf_counter() - t0
    results["raw_embed_s"] = raw
    results["raw_papers_per_s"] = len(papers) / raw
    results["chunks"] = len(chunks)

    timed = TimedEmbedder(embedder)
    lib = Library(settings, embedder=timed)
    lib.store.exists  # noqa: B018 - open the Chroma client (import ~0.7 s) outside the timing
    t0 = time.perf_counter()
    lib.ingest(papers)
    cold = time.perf_counter() - t0
    results["cold_ingest_s"] = cold
    results["ingest_embed_s"] = timed.seconds
    # Overhead = ingest time not spent inside the model, relative to the model's time.
    # Measured inside the same run, so machine load affects both sides alike.
    results["ingest_overhead_pct"] = 100 * (cold - timed.seconds) / timed.seconds

    t0 = time.perf_counter()
    report = Library(settings, embedder=embedder).ingest(papers)
    results["reingest_unchanged_s"] = time.perf_counter() - t0
    assert report.unchanged == len(papers)

    env = {**os.environ, "PAPERCHAT_HOME": str(home), "PAPERCHAT_EMBED_RUNTIME": args.runtime}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paperchat", "ingest", "--json"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    results["reingest_unchanged_cli_s"] = time.perf_counter() - t0

    suite = ROOT / "evals" / "suites" / "bundled_qa.jsonl"
    questions = [json.loads(line)["question"] for line in suite.read_text().splitlines()
                 if line.strip()]
    lib = Library(settings, embedder=embedder)
    lib.search("warm up")
    lat = []
    for i in range(args.queries):
        t0 = time.perf_counter()
        lib.search(questions[i % len(questions)], 10)
        lat.append((time.perf_counter() - t0) * 1000)
    results["search_p50_ms"] = statistics.median(lat)
    results["search_p95_ms"] = float(np.quantile(lat, 0.95, method="nearest"))

    walls = []
    for _ in range(args.cold_runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "paperchat", "search",
                        "which papers pretrain graph networks?", "--json"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    results["cli_search_wall_median_s"] = statistics.median(walls)

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"ingest_search-{args.runtime}.json").write_text(json.dumps(results, indent=2))
    print("| metric | value |\n|---|---|")
    for key, value in results.items():
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")


if __name__ == "__main__":
    main()
