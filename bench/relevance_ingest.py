"""Ingest cost of the sentence vectors stored for the relevance stage:
`python bench/relevance_ingest.py [--runs 2]`.

Ingests the bundled 119 papers into fresh data dirs with MiniLM, alternating with the
`__sentences` companion (relevance.stage=calibrated, the default) and without it
(first-stage), the model loaded before the clock starts; prints papers/s per run and the
median ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.bundled import bundled_collection_path
from ingest.parsers import parse_file
from rag.library import Library
from rag.settings import Settings


def one(stage: str, home: Path) -> float:
    settings = Settings(home=home, embed={"provider": "minilm"},  # type: ignore[arg-type]
                        relevance={"stage": stage})  # type: ignore[arg-type]
    papers = parse_file(bundled_collection_path()).papers
    lib = Library(settings)
    lib.embedder.embed_documents(["warm up"])
    t0 = time.perf_counter()
    lib.ingest(papers)
    return len(papers) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    rates: dict[str, list[float]] = {"first-stage": [], "calibrated": []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for stage in ("first-stage", "calibrated"):
                rate = one(stage, Path(tmp) / f"{stage}-{run}")
                rates[stage].append(rate)
                print(f"run {run + 1} {stage:12s} {rate:6.1f} papers/s", flush=True)
    before, after = (statistics.median(rates[s]) for s in ("first-stage", "calibrated"))
    print(f"median: without sentences {before:.1f} papers/s, with {after:.1f} papers/s "
          f"(x{after / before:.2f})")


if __name__ == "__main__":
    main()
