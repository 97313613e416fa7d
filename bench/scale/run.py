"""Scale benchmark: ingest, disk, memory and warm search latency at growing collection sizes.

Run:  python bench/scale/run.py [--sizes 1000,10000,100000] [--stores embedded,server]
                                [--queries 200] [--quick] [--out bench/scale/results.json]

For each store (embedded `PersistentClient`, and a `chroma run` server on loopback) and
each size, in a fresh temporary PAPERCHAT_HOME, with separate worker processes so peak
RSS belongs to one phase:
- ingest: the synthetic collection (bench/scale/generate.py) with the fast deterministic
  HashingEmbedder (384-d, so vectors have MiniLM's size); papers/s, time split into
  chunking / embedding / Chroma upsert / keyword index / the rest, disk (du), peak RSS.
  The HashingEmbedder's collections keep no `<name>__sentences` companion (only MiniLM's
  do, rag/companions.py); `--companions sentences` adds it, as a MiniLM collection has it;
- search: open time in a fresh process (server mode rebuilds BM25 from Chroma here),
  then warm latency p50/p95 over N queries for bm25, dense and default (hybrid) modes,
  and a known-item sanity check (a paper's exact title finds it at rank 1);
- incremental: 100 new papers into the big collection vs 100 papers into an empty one
  (median of 3 each), and a re-ingest of the unchanged full collection.
The real model's cost is measured apart: MiniLM (onnx) chunks/s on a sample of
abstracts, extrapolated to each size's chunk count and labelled as extrapolated.
Writes results.json (and prints a Markdown table); plot with bench/scale/plot.py.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.scale.generate import Generator, bundled_sources, read_jsonl, write_jsonl  # noqa: E402

MODES = ("bm25", "dense", "default")
EXTRA = 100  # papers per incremental ingest
REPS = 3
WORKER_TIMEOUT_S = 3 * 3600  # one phase at 100k stays far below; a hang must not block forever
SEARCH_BUDGET_S = 300.0  # per mode: the query loop stops early rather than run for hours

# Methods timed inside workers (wrapped at class level, bench only). Missing ones are skipped,
# so the same script measures the code before and after a refactor.
PHASES: dict[str, tuple[str, str, str]] = {
    "chunk_s": ("rag.chunking", "Chunker", "chunk_many"),
    "upsert_s": ("rag.store", "ChromaStore", "upsert"),
    "states_s": ("rag.store", "ChromaStore", "paper_states"),
    "delete_s": ("rag.store", "ChromaStore", "delete_stale"),
    "delete_versions_s": ("rag.store", "ChromaStore", "delete_versions"),
    "keyword_rebuild_s": ("rag.keyword", "KeywordIndex", "rebuild"),
    "keyword_tokenise_s": ("rag.keyword", "_Builder", "add"),  # before tantivy
    "keyword_update_s": ("rag.keyword", "KeywordIndex", "updated"),  # before tantivy
    "keyword_sync_s": ("rag.keyword", "KeywordIndex", "synced"),  # before tantivy
    "keyword_add_s": ("rag.keyword", "KeywordWriter", "add"),  # tantivy: queue documents
    "keyword_commit_s": ("rag.keyword", "KeywordIndex", "_commit"),  # tantivy: index+merge
    "keyword_tantivy_sync_s": ("rag.keyword", "KeywordIndex", "sync"),
    # --companions sentences: the relevance stage's per-sentence vectors (rag/companions.py)
    "companion_write_s": ("rag.relevance.store", "SentenceCompanion", "write"),
    "companion_put_s": ("rag.companions", "CompanionStore", "put"),
}


# -- helpers ------------------------------------------------------------------------------
def du_bytes(*paths: Path) -> int:
    """Disk usage like `du -s` (allocated blocks), summed over paths."""
    total = 0
    for path in paths:
        for dirpath, _, files in os.walk(path):
            for f in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
    return total


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def proc_mem_mb(pid: int) -> dict[str, float]:
    """Current and peak RSS of another process (the Chroma server), from /proc."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


class PhaseTimer:
    """Adds up wall seconds spent in selected methods (patched on their classes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def install(self) -> PhaseTimer:
        for label, (module, cls_name, method) in PHASES.items():
            try:
                cls = getattr(importlib.import_module(module), cls_name, None)
            except ImportError:  # a module this version of the code does not have
                continue
            original = None if cls is None else cls.__dict__.get(method)
            if original is None:  # not in this version of the code
                continue
            self._undo.append(functools.partial(setattr, cls, method, original))
            setattr(cls, method, self._wrap(label, original))
        return self

    def _wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t0
        return timed

    def take(self) -> dict[str, float]:
        out, self.seconds = self.seconds, {}
        return out


class TimedEmbedder:
    """The fast deterministic embedder, adding up the seconds spent embedding documents."""

    def __init__(self, dimension: int = 384) -> None:
        from rag.embedders.fake import HashingEmbedder

        self.inner = HashingEmbedder(dimension)
        self.seconds = 0.0
        self.texts = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: list[str]) -> Any:
        t0 = time.perf_counter()
        self.texts += len(texts)
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - t0

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)


def load_papers(path: Path, start: int, count: int) -> list[Any]:
    papers = read_jsonl(path)
    return papers[start:start + count]


def make_settings(home: Path, chroma_url: str | None, collection: str = "papers") -> Any:
    from rag.settings import Settings

    return Settings(home=home, chroma_url=chroma_url, collection=collection,
                    embed={"provider": "fake", "dimensions": 384})  # type: ignore[arg-type]


def open_library(args: argparse.Namespace, settings: Any, embedder: TimedEmbedder) -> Any:
    """A Library with the embedder; with `--companions sentences`, also writing the
    sentence companion a MiniLM collection keeps (the HashingEmbedder's gets none)."""
    from rag.library import Library

    if not args.companions:
        return Library(settings, embedder=embedder)
    from rag.relevance.store import SentenceCompanion

    return Library(settings, embedder=embedder,
                   companions=[SentenceCompanion(lambda: embedder)])


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


# -- worker phases (each in its own process) ------------------------------------------------
def phase_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from rag.chunking import Chunker

    papers = load_papers(args.papers, 0, args.size)
    settings = make_settings(args.home, args.chroma_url)
    Chunker(settings.chunk).chunk(papers[0])  # import llama-index/tiktoken outside the timing
    timer = PhaseTimer().install()
    embedder = TimedEmbedder()
    lib = open_library(args, settings, embedder)
    lib.store.exists  # noqa: B018 - open the Chroma client outside the timing
    load0 = loadavg()
    t0 = time.perf_counter()
    report = lib.ingest(papers)
    total = time.perf_counter() - t0
    phases = timer.take()
    assert report.added == args.size, report
    return {"ingest_s": total, "papers_per_s": args.size / total, "chunks": report.chunks,
            "embed_fake_s": embedder.seconds, "store_side_s": total - embedder.seconds,
            "embedded_texts": embedder.texts,
            **phases, "peak_rss_mb": peak_rss_mb(), "loadavg": [load0, loadavg()]}


def queries_for(papers: list[Any], n: int, seed: int = 1) -> tuple[list[str], list[str | None]]:
    """Eval questions (realistic wording) and exact titles (known items), n in all."""
    suite = ROOT / "evals" / "suites" / "bundled_qa.jsonl"
    questions = [json.loads(line)["question"] for line in suite.read_text().splitlines()
                 if line.strip()]
    rng = random.Random(seed)
    out: list[str] = []
    targets: list[str | None] = []
    for i in range(n):
        if i % 2 == 0:
            out.append(questions[(i // 2) % len(questions)])
            targets.append(None)
        else:
            p = papers[rng.randrange(len(papers))]
            out.append(p.title)
            targets.append(p.id)
    return out, targets


def phase_search(args: argparse.Namespace) -> dict[str, Any]:
    from rag.library import Library

    papers = load_papers(args.papers, 0, args.size)
    queries, targets = queries_for(papers, args.queries)
    del papers
    t0 = time.perf_counter()
    lib = Library(make_settings(args.home, args.chroma_url), embedder=TimedEmbedder())
    lib.keyword  # noqa: B018 - loads the keyword index (server mode: rebuilds it from Chroma)
    keyword_open = time.perf_counter() - t0
    lib.search(queries[0], 10)
    open_s = time.perf_counter() - t0
    rss_open = peak_rss_mb()
    out: dict[str, Any] = {"open_s": open_s, "keyword_open_s": keyword_open,
                           "rss_after_open_mb": rss_open, "loadavg": [loadavg()]}
    for mode in MODES:
        for q in queries[:20]:  # warm-up: caches, HNSW pages, numpy paths
            lib.search(q, 10, mode=mode)
        lat: list[float] = []
        parts: dict[str, list[float]] = {}
        hits_at_1 = known = 0
        started = time.perf_counter()
        for q, target in zip(queries, targets, strict=True):
            t = time.perf_counter()
            resp = lib.search(q, 10, mode=mode)
            lat.append((time.perf_counter() - t) * 1000)
            for key, value in resp.timings.items():
                parts.setdefault(key, []).append(value)
            if target is not None:
                known += 1
                hits_at_1 += bool(resp.results) and resp.results[0].paper_id == target
            if time.perf_counter() - started > SEARCH_BUDGET_S:
                break
        out[mode] = {"p50_ms": statistics.median(lat),
                     "p95_ms": float(np.quantile(lat, 0.95, method="nearest")),
                     "mean_ms": statistics.fmean(lat), "queries": len(lat),
                     "title_at_1": hits_at_1 / known if known else None,
                     "parts_mean_ms": {k: statistics.fmean(v) for k, v in parts.items()}}
    out["peak_rss_mb"] = peak_rss_mb()
    out["loadavg"].append(loadavg())
    return out


def phase_incremental(args: argparse.Namespace) -> dict[str, Any]:
    from rag.chunking import Chunker

    all_papers = read_jsonl(args.papers)
    base = all_papers[:args.size]
    extra = all_papers[args.size:args.size + EXTRA * REPS]
    assert len(extra) == EXTRA * REPS, "the papers file is too short"
    del all_papers
    settings = make_settings(args.home, args.chroma_url)
    Chunker(settings.chunk).chunk(base[0])  # import llama-index/tiktoken outside the timings
    timer = PhaseTimer().install()
    out: dict[str, Any] = {"loadavg": [loadavg()]}

    small, small_phases = [], []
    for rep in range(REPS):
        lib = open_library(args, make_settings(args.home, args.chroma_url, f"empty{rep}"),
                           TimedEmbedder())
        lib.store.exists  # noqa: B018
        t0 = time.perf_counter()
        lib.ingest(extra[rep * EXTRA:(rep + 1) * EXTRA])
        small.append(time.perf_counter() - t0)
        small_phases.append(timer.take())

    t0 = time.perf_counter()
    lib = open_library(args, settings, TimedEmbedder())
    lib.keyword  # noqa: B018 - open outside the incremental timing, like a running server
    out["open_s"] = time.perf_counter() - t0
    timer.take()
    inc, inc_phases = [], []
    for rep in range(REPS):
        t0 = time.perf_counter()
        report = lib.ingest(extra[rep * EXTRA:(rep + 1) * EXTRA])
        inc.append(time.perf_counter() - t0)
        inc_phases.append(timer.take())
        assert report.added == EXTRA, report
    t0 = time.perf_counter()
    report = lib.ingest(base)
    out["reingest_unchanged_s"] = time.perf_counter() - t0
    out["reingest_phases"] = timer.take()
    assert report.unchanged == args.size, report
    t0 = time.perf_counter()
    count = lib.count()
    out["count_s"] = time.perf_counter() - t0
    assert count == args.size + EXTRA * REPS, count
    med = statistics.median(inc)
    out.update({"empty_100_s": statistics.median(small), "empty_100_runs": small,
                "empty_100_phases": small_phases[len(small) // 2],
                "incremental_100_s": med, "incremental_100_runs": inc,
                "incremental_100_phases": inc_phases[inc.index(med)],
                "incremental_ratio": med / statistics.median(small),
                "peak_rss_mb": peak_rss_mb()})
    out["loadavg"].append(loadavg())
    return out


def phase_model(args: argparse.Namespace) -> dict[str, Any]:
    """MiniLM (onnx) throughput on a sample of synthetic chunks: the real embedding cost."""
    from rag.chunking import Chunker
    from rag.embedders.minilm import OnnxMiniLMEmbedder
    from rag.settings import Settings

    settings = Settings(home=args.home, embed={"provider": "minilm"})  # type: ignore[arg-type]
    papers = load_papers(args.papers, 0, args.size)
    texts = [c.text for c in Chunker(settings.chunk).chunk_many(papers)]
    t0 = time.perf_counter()
    embedder = OnnxMiniLMEmbedder(settings)  # first run exports ONNX once (not counted)
    load = time.perf_counter() - t0
    embedder.embed_documents(texts[:16])
    t0 = time.perf_counter()
    embedder.embed_documents(texts)
    seconds = time.perf_counter() - t0
    return {"sample_papers": len(papers), "sample_chunks": len(texts), "seconds": seconds,
            "chunks_per_s": len(texts) / seconds, "load_s": load, "loadavg": [loadavg()]}


WORKERS = {"ingest": phase_ingest, "search": phase_search, "incremental": phase_incremental,
           "model": phase_model}


# -- orchestration ---------------------------------------------------------------------------
def run_worker(phase: str, size: int, home: Path, papers: Path, chroma_url: str | None,
               queries: int, companions: str = "") -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", phase, "--size",
           str(size), "--home", str(home), "--papers", str(papers), "--queries", str(queries)]
    if companions:
        cmd += ["--companions", companions]
    if chroma_url:
        cmd += ["--chroma-url", chroma_url]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PAPERCHAT_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=WORKER_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {phase} (size {size}) failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t0
    return result


@contextlib.contextmanager
def store_for(kind: str, workdir: Path) -> Iterator[tuple[str | None, int | None, Path | None]]:
    """(chroma url, server pid, server data dir) for a store kind; None for embedded."""
    if kind == "embedded":
        yield None, None, None
        return
    from tests.utils.chroma_server import ChromaProcess

    data = workdir / "chroma-server-data"
    chroma = ChromaProcess(data).start(timeout=60)
    try:
        assert chroma.proc is not None
        yield chroma.url, chroma.proc.pid, data
    finally:
        chroma.stop()


def bench_one(kind: str, size: int, papers: Path, workdir: Path, queries: int,
              log: Callable[[str], None], companions: str = "") -> dict[str, Any]:
    run_dir = workdir / f"{kind}-{size}"
    home = run_dir / "home"
    home.mkdir(parents=True)
    row: dict[str, Any] = {"store": kind, "size": size, "companions": companions}
    with store_for(kind, run_dir) as (url, pid, data):
        for phase in ("ingest", "search", "incremental"):
            log(f"{kind} {size}: {phase} ...")
            row[phase] = run_worker(phase, size, home, papers, url, queries, companions)
            if phase == "ingest":
                row["disk_mb"] = du_bytes(home, *(p for p in [data] if p)) / 1e6
            if pid:
                row[phase]["server_mem_mb"] = proc_mem_mb(pid)
            log(f"{kind} {size}: {phase} done in {row[phase]['wall_s']:.1f}s")
    return row


def markdown(results: dict[str, Any]) -> str:
    rate = results.get("model", {}).get("chunks_per_s")
    lines = ["| store | papers | chunks | ingest s (fake emb.) | papers/s | of which embed s "
             "| MiniLM embed s (extrapolated) | disk MB | ingest peak RSS MB | open s "
             "| bm25 p50/p95 ms | dense p50/p95 ms | default p50/p95 ms | +100 s | "
             "100 into empty s | re-ingest unchanged s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        ing, se, inc = r["ingest"], r["search"], r["incremental"]
        minilm = f"{ing['chunks'] / rate:,.0f}" if rate else "-"
        lat = [f"{se[m]['p50_ms']:.1f} / {se[m]['p95_ms']:.1f}" for m in MODES]
        lines.append(
            f"| {r['store']} | {r['size']:,} | {ing['chunks']:,} | {ing['ingest_s']:.1f} | "
            f"{ing['papers_per_s']:.0f} | {ing['embed_fake_s']:.1f} | {minilm} | "
            f"{r['disk_mb']:.0f} | {ing['peak_rss_mb']:.0f} | {se['open_s']:.2f} | "
            f"{' | '.join(lat)} | {inc['incremental_100_s']:.2f} | {inc['empty_100_s']:.2f} | "
            f"{inc['reingest_unchanged_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--stores", default="embedded,server")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--model-sample", type=int, default=200,
                    help="abstracts embedded with MiniLM to measure its throughput (0 = skip)")
    ap.add_argument("--quick", action="store_true", help="sizes 500,2000 and 50 queries")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    ap.add_argument("--workdir", type=Path, help="keep data here instead of a temp dir")
    ap.add_argument("--label", default="", help="free text stored in the results")
    ap.add_argument("--companions", choices=["", "sentences"], default="",
                    help="also write the <name>__sentences companion (as MiniLM ingests do)")
    # worker mode (internal)
    ap.add_argument("--worker", choices=sorted(WORKERS))
    ap.add_argument("--size", type=int)
    ap.add_argument("--home", type=Path)
    ap.add_argument("--papers", type=Path)
    ap.add_argument("--chroma-url")
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return

    if args.quick:
        args.sizes, args.queries = "500,2000", 50
    sizes = sorted(int(s) for s in args.sizes.split(","))
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="paperchat-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    papers = workdir / "papers.jsonl"
    t0 = time.perf_counter()
    gen = Generator(bundled_sources(), seed=0)
    write_jsonl(papers, gen.papers(max(sizes) + EXTRA * REPS))
    log(f"generated {max(sizes) + EXTRA * REPS} papers in {time.perf_counter() - t0:.1f}s")

    results: dict[str, Any] = {
        "label": args.label, "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "loadavg_start": loadavg()},
        "generate_s": time.perf_counter() - t0, "queries": args.queries, "runs": []}
    if args.model_sample:
        log("MiniLM throughput sample ...")
        results["model"] = run_worker("model", args.model_sample, workdir / "model-home",
                                      papers, None, 0)
        results["model"]["note"] = ("measured on a sample; MiniLM embed seconds per size "
                                    "are chunks / chunks_per_s (extrapolated)")
    for kind in stores:
        for size in sizes:
            results["runs"].append(bench_one(kind, size, papers, workdir, args.queries, log,
                                             args.companions))
            args.out.write_text(json.dumps(results, indent=2))  # partial results survive
    results["machine"]["loadavg_end"] = loadavg()
    args.out.write_text(json.dumps(results, indent=2))
    print(markdown(results))
    if not args.workdir:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
