"""Ingest cost of the sentence vectors stored for the relevance stage:
`python bench/relevance_ingest.py [--dataset bundled|scifact|scale] [--sample N] [--runs 2]`.

Ingests the papers into fresh data dirs with MiniLM (onnx), alternating without the
`__sentences` companion (relevance.store_sentences=false) and with it (the default), the
model loaded before the clock starts. Prints papers/s per run, the median ratio, and the
throughput of each kind of text: chunks/s from the runs without sentences, and the extra
texts (abstract sentences + title) per second from the difference of the two; from these,
`--project N` estimates an N-paper ingest of the same kind of papers.

`--embed-only` measures just the embedding work, robust to a shared machine: one process
embeds, block after block of 20 papers, the papers' chunks then their sentence+title texts
(CPU seconds of the process, all threads), so load hits both alike; the ratio says how much
the sentence vectors add to an ingest's embedding time, which dominates a real ingest.

Datasets: bundled = the 119 bundled papers; scifact = a seeded sample of SciFact train's
5,183 abstracts (/work/shared/benchmarks/scifact-train; --sample, default 300); scale = the
synthetic arXiv-like papers of bench/scale/generate.py (what the 100k scale run ingests;
--sample, default 300).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.library import Library
from rag.models import Paper
from rag.relevance.sentences import paper_sentences
from rag.settings import Settings

SCIFACT = Path(os.environ.get("PAPERCHAT_SCIFACT", "/work/shared/benchmarks/scifact-train"))


def papers_of(dataset: str, sample: int) -> list[Paper]:
    if dataset == "bundled":
        from ingest.bundled import bundled_collection_path
        from ingest.parsers import parse_file

        return parse_file(bundled_collection_path()).papers
    if dataset == "scifact":
        from evals.beir import load_corpus

        corpus = load_corpus(SCIFACT / "corpus.jsonl")
        return random.Random(0).sample(corpus, min(sample, len(corpus)))
    sys.path.insert(0, str(Path(__file__).resolve().parent / "scale"))
    from generate import Generator, bundled_sources  # type: ignore[import-not-found]

    return list(Generator(bundled_sources(), seed=0).papers(sample))


def one(store_sentences: bool, home: Path, papers: list[Paper]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, chunks) of one ingest into a fresh home.
    CPU time (all threads) is the figure a shared machine disturbs least."""
    settings = Settings(home=home, embed={"provider": "minilm"},  # type: ignore[arg-type]
                        relevance={"store_sentences": store_sentences})  # type: ignore[arg-type]
    lib = Library(settings)
    lib.embedder.embed_documents(["warm up"])
    t0, c0 = time.perf_counter(), time.process_time()
    report = lib.ingest(papers)
    return time.perf_counter() - t0, time.process_time() - c0, report.chunks


def embed_only(papers: list[Paper], block: int = 20) -> None:
    from rag.chunking import Chunker
    from rag.embedders import make_embedder
    from rag.settings import load_settings

    settings = load_settings().with_overrides(embed__provider="minilm")
    embedder, chunker = make_embedder(settings), Chunker(settings.chunk)
    embedder.embed_documents(["warm up"])
    cpu = {"chunks": 0.0, "sentences": 0.0}
    count = {"chunks": 0, "sentences": 0}
    for start in range(0, len(papers), block):
        batch = papers[start:start + block]
        texts = {"chunks": [c.text for c in chunker.chunk_many(batch)],
                 "sentences": [t for p in batch for t in (p.title, *paper_sentences(p.abstract))]}
        for kind, items in texts.items():
            c0 = time.process_time()
            embedder.embed_documents(items)
            cpu[kind] += time.process_time() - c0
            count[kind] += len(items)
    n = len(papers)
    for kind in cpu:
        print(f"{kind:9s}: {count[kind]} texts ({count[kind] / n:.2f} per paper), "
              f"{cpu[kind]:.1f} CPU s, {count[kind] / cpu[kind]:.1f} texts per CPU s")
    print(f"embedding CPU with sentence vectors / without: "
          f"x{(cpu['chunks'] + cpu['sentences']) / cpu['chunks']:.2f}; load average "
          f"{os.getloadavg()[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bundled", choices=("bundled", "scifact", "scale"))
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--project", type=int, default=100_000,
                    help="papers to project the ingest time for")
    ap.add_argument("--embed-only", action="store_true")
    args = ap.parse_args()
    papers = papers_of(args.dataset, args.sample)
    if args.embed_only:
        embed_only(papers)
        return
    extra = sum(len(paper_sentences(p.abstract)) + 1 for p in papers)
    print(f"{args.dataset}: {len(papers)} papers, {extra} sentence+title texts "
          f"({extra / len(papers):.1f} per paper); load average {os.getloadavg()[0]:.1f}",
          flush=True)
    secs: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    chunks = 0
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for on in (False, True):
                s, cpu, chunks = one(on, Path(tmp) / f"{on}-{run}", papers)
                secs[on].append(s)
                cpus[on].append(cpu)
                print(f"run {run + 1} {'with' if on else 'without':7s} sentences "
                      f"{len(papers) / s:6.1f} papers/s ({s:.1f} s wall, {cpu:.1f} s CPU, "
                      f"load {os.getloadavg()[0]:.1f})", flush=True)
    before, after = (statistics.median(secs[on]) for on in (False, True))
    n = len(papers)
    chunk_rate = chunks / before
    extra_rate = extra / (after - before) if after > before else float("inf")
    print(f"median: without sentences {n / before:.1f} papers/s, with {n / after:.1f} "
          f"papers/s (ingest time x{after / before:.2f})")
    print(f"chunks: {chunks} ({chunks / n:.2f} per paper), {chunk_rate:.1f} chunks/s; "
          f"sentence+title texts: {extra_rate:.1f}/s")
    cpu_before, cpu_after = (statistics.median(cpus[on]) for on in (False, True))
    print(f"CPU: without sentences {cpu_before / n * 1000:.0f} ms/paper, with "
          f"{cpu_after / n * 1000:.0f} ms/paper (x{cpu_after / cpu_before:.2f})")
    print(f"projected {args.project:,} papers of this kind at this run's speed: "
          f"{args.project / (n / before) / 3600:.2f} h without sentences, "
          f"{args.project / (n / after) / 3600:.2f} h with")


if __name__ == "__main__":
    main()
