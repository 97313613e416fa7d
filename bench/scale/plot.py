"""Growth curves from bench/scale/run.py results: latency, ingest, incremental, memory.

Run:  python bench/scale/plot.py [results.json] [--before results-before.json] [--out growth.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODES = ("bm25", "dense", "default")
COLORS = {"bm25": "tab:orange", "dense": "tab:blue", "default": "tab:green"}
STYLES = {"embedded": "-", "server": "--"}


def _series(results: dict[str, Any], store: str, value: Any) -> tuple[list[int], list[float]]:
    runs = sorted((r for r in results["runs"] if r["store"] == store), key=lambda r: r["size"])
    return [r["size"] for r in runs], [value(r) for r in runs]


def plot(results: dict[str, Any], before: dict[str, Any] | None, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stores = sorted({r["store"] for r in results["runs"]})
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    (lat, ing), (inc, mem) = axes

    for store in stores:
        for mode in MODES:
            xs, ys = _series(results, store, lambda r, m=mode: r["search"][m]["p95_ms"])
            lat.plot(xs, ys, STYLES[store], color=COLORS[mode], marker="o",
                     label=f"{mode} ({store})")
            if before:
                bx, by = _series(before, store, lambda r, m=mode: r["search"][m]["p95_ms"])
                lat.plot(bx, by, STYLES[store], color=COLORS[mode], alpha=0.3, marker="x")
    lat.axhline(150, color="red", linewidth=0.8, linestyle=":")
    lat.text(1000, 160, "target p95 150 ms", color="red",
             fontsize=8)
    lat.set(title="Warm search latency p95 (faded x = before the fixes)",
            xlabel="papers", ylabel="ms", xscale="log", yscale="log")
    lat.legend(fontsize=7, ncol=2)

    rate = results.get("model", {}).get("chunks_per_s")
    for store in stores:
        xs, ys = _series(results, store, lambda r: r["ingest"]["store_side_s"])
        ing.plot(xs, ys, STYLES[store], color="black", marker="o",
                 label=f"store side: chunk+Chroma+BM25 ({store})")
        if before:
            bx, by = _series(before, store, lambda r: r["ingest"]["store_side_s"])
            ing.plot(bx, by, STYLES[store], color="black", alpha=0.3, marker="x")
    if rate:
        xs, ys = _series(results, stores[0], lambda r: r["ingest"]["chunks"] / rate)
        ing.plot(xs, ys, ":", color="tab:purple", marker="s",
                 label=f"MiniLM embedding, extrapolated ({rate:.0f} chunks/s)")
    ing.set(title="Full ingest time", xlabel="papers", ylabel="s", xscale="log",
            yscale="log")
    ing.legend(fontsize=7)

    for store in stores:
        xs, ys = _series(results, store, lambda r: r["incremental"]["incremental_100_s"])
        inc.plot(xs, ys, STYLES[store], color="tab:green", marker="o",
                 label=f"+100 papers into the collection ({store})")
        xs, ys = _series(results, store, lambda r: r["incremental"]["empty_100_s"])
        inc.plot(xs, ys, STYLES[store], color="gray", marker=".",
                 label=f"100 papers into an empty one ({store})")
        if before:
            bx, by = _series(before, store, lambda r: r["incremental"]["incremental_100_s"])
            inc.plot(bx, by, STYLES[store], color="tab:green", alpha=0.3, marker="x")
    inc.set(title="Incremental ingest of 100 papers (fake embedder; faded = before)",
            xlabel="collection size (papers)", ylabel="s", xscale="log", yscale="log")
    inc.legend(fontsize=7)

    for store in stores:
        xs, ys = _series(results, store, lambda r: r["ingest"]["peak_rss_mb"])
        mem.plot(xs, ys, STYLES[store], color="tab:red", marker="o",
                 label=f"ingest peak RSS ({store})")
        xs, ys = _series(results, store, lambda r: r["search"]["peak_rss_mb"])
        mem.plot(xs, ys, STYLES[store], color="tab:olive", marker="o",
                 label=f"search process peak RSS ({store})")
        xs, ys = _series(results, store, lambda r: r["disk_mb"])
        mem.plot(xs, ys, STYLES[store], color="tab:brown", marker="s",
                 label=f"disk ({store})")
    mem.set(title="Memory and disk", xlabel="papers", ylabel="MB", xscale="log",
            yscale="log")
    mem.legend(fontsize=7)

    machine = results["machine"]
    fig.suptitle(f"paperchat scale benchmark - {machine['cores']} cores, "
                 f"load avg {machine['loadavg_start']} at start ({results['date']})")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", type=Path, default=HERE / "results.json")
    ap.add_argument("--before", type=Path)
    ap.add_argument("--out", type=Path, default=HERE / "growth.png")
    args = ap.parse_args()
    before = json.loads(args.before.read_text()) if args.before else None
    plot(json.loads(args.results.read_text()), before, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
