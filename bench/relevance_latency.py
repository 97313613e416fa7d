"""Latency the relevance stage adds per question: `python bench/relevance_latency.py
[--dataset bundled|scifact] [--questions N] [--sentences stored|query-time]`.

For each question: the first stage at the stage's depth (`Library.search`), then
`CalibratedRelevance.assess` twice: first sight and warm (the same question again). With
`--sentences stored` (default) the stage is the collection's own (`make_reranker`: the
candidates' sentence and title vectors read from the `__sentences` companion written at
ingest; papers without records embedded at query time, and counted); with `query-time`
every candidate's sentences are embedded by the stage (then cached in memory), as for a
collection ingested without sentence vectors. Prints p50/p95 in ms for each, the first
stage's at k=5 for comparison (what the answer path searched before the stage), and the
load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relevance_data import open_dataset

from rag.answer.vectors import SentenceVectors
from rag.relevance.calibration import RelevanceModel
from rag.relevance.stage import CalibratedRelevance, make_reranker
from rag.relevance.store import SUFFIX


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bundled", choices=("bundled", "scifact"))
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--sentences", default="stored", choices=("stored", "query-time"))
    args = ap.parse_args()
    library, questions = open_dataset(args.dataset)
    questions = questions[: args.questions]
    if args.sentences == "stored":
        stored = make_reranker(library)
        assert stored is not None, "the calibrated stage is off for this collection"
        stage = stored
    else:
        stage = CalibratedRelevance(RelevanceModel.load(), SentenceVectors(library.embedder))
    papers = library.count()
    with_records = len({m["paper_id"] for m in library.companion(SUFFIX).fetch(
        where={"kind": "title"}, include=["metadatas"])["metadatas"]})
    load = [os.getloadavg()[0]]
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
    load.append(os.getloadavg()[0])
    print(f"{args.dataset}: {len(questions)} questions, {papers} papers "
          f"({with_records} with stored sentence vectors), sentences {args.sentences}, "
          f"load average {load[0]:.1f} -> {load[1]:.1f}")
    for name, xs in (("first stage k=5", first5), (f"first stage k={stage.depth(5)}", first30),
                     ("relevance stage, first sight", cold), ("relevance stage, warm", warm)):
        ms = np.array(xs) * 1000
        print(f"  {name:32s} p50 {np.percentile(ms, 50):7.1f} ms   p95 "
              f"{np.percentile(ms, 95):7.1f} ms")


if __name__ == "__main__":
    main()
