"""Latency the relevance stage adds per question: `python bench/relevance_latency.py
[--dataset bundled|scifact] [--questions N]`.

For each question: the first stage at the stage's depth (`Library.search`), then
`CalibratedRelevance.assess` twice: first sight (the candidates' sentences are embedded at
query time) and warm (sentence vectors cached). Prints p50/p95 in ms for each, and the
first stage's at k=5 for comparison (what the answer path searched before the stage).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relevance_data import open_dataset

from rag.answer.vectors import SentenceVectors
from rag.relevance.calibration import RelevanceModel
from rag.relevance.stage import CalibratedRelevance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bundled", choices=("bundled", "scifact"))
    ap.add_argument("--questions", type=int, default=100)
    args = ap.parse_args()
    library, questions = open_dataset(args.dataset)
    questions = questions[: args.questions]
    stage = CalibratedRelevance(RelevanceModel.load(), SentenceVectors(library.embedder))
    library.search("warm up the first stage", 5)
    first5, first30, cold, warm = [], [], [], []
    for _qid, text, _kind, _labels in questions:
        t0 = time.perf_counter()
        library.search(text, 5)
        first5.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        response = library.search(text, stage.depth(5))
        first30.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        stage.assess(text, response, 5)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        stage.assess(text, response, 5)
        warm.append(time.perf_counter() - t0)
    print(f"{args.dataset}: {len(questions)} questions, {library.count()} papers")
    for name, xs in (("first stage k=5", first5), (f"first stage k={stage.depth(5)}", first30),
                     ("relevance stage, first sight", cold), ("relevance stage, warm", warm)):
        ms = np.array(xs) * 1000
        print(f"  {name:32s} p50 {np.percentile(ms, 50):7.1f} ms   p95 "
              f"{np.percentile(ms, 95):7.1f} ms")


if __name__ == "__main__":
    main()
