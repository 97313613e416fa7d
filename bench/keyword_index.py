"""The keyword index alone on a BEIR corpus: full build, reopen, query latency.

Run:  python bench/keyword_index.py [--beir ../shared/benchmarks/scifact-train] [--split train]
                                    [--rounds 2] [--out bench/results/keyword_index.json]

Chunks the corpus as an ingest does (settings' chunking, no embedding), builds the
collection's keyword index from scratch in a temporary directory (`KeywordIndex.rebuild`),
opens it again, then times every query of the split (top 50, as retrieval's candidate
depth). Only `rebuild` and `search` are used, which the index had before and after it moved
to tantivy, so the same file measures both: copy it into a checkout of the older commit and
run it there, alternating, on the same machine (BENCHMARKS.md, issue 12).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beir", type=Path, default=ROOT.parent / "shared/benchmarks/scifact-train")
    ap.add_argument("--split", default="train")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/keyword_index.json")
    args = ap.parse_args()

    from evals.beir import load_beir
    from rag.chunking import Chunker
    from rag.keyword import KeywordIndex
    from rag.settings import Settings

    dataset = load_beir(args.beir, args.split)
    papers = dataset.corpus
    chunks = Chunker(Settings().chunk).chunk_many(papers)
    rows = [(f"{c.paper_id}#h#{c.index}", c.paper_id, c.text) for c in chunks]
    queries = list(dataset.queries.values())
    runs = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            built = KeywordIndex(Path(tmp))
            t0 = time.perf_counter()
            built.rebuild(iter(rows))
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            index = KeywordIndex(Path(tmp))
            reopened = len(index)
            index.search("warm up", 5)
            open_s = time.perf_counter() - t0
            if reopened != len(rows):  # a version that does not reopen this way
                index = built
            for q in queries[:50]:
                index.search(q, 50)
            times = []
            for q in queries:
                t0 = time.perf_counter()
                index.search(q, 50)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            runs.append({"build_s": round(build_s, 3), "open_s": round(open_s, 4),
                         "search_p50_ms": round(statistics.median(times), 3),
                         "search_p95_ms": round(times[int(0.95 * len(times)) - 1], 3)})
    result = {"corpus": len(papers), "chunks": len(rows), "queries": len(queries),
              "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
