"""Eval benchmark: the bundled QA suite, extractive engine, real MiniLM (issue 6 target).

Run:  python bench/eval_bench.py [--runs 3] [--home DIR] [--out results.json]

Measures, as a user runs it (`paperchat eval qa --engine extractive`, one CLI process each):
- cold: empty data dir, so the run includes indexing the bundled collection;
- warm: the same data dir again (index built, ONNX model exported): median and max of
  --runs runs. The target is a warm run under 60 s on 2 cores.
Per run: process wall time, the eval's own time (answering + scoring + reports), and the
answer latency p50/p95. Prints a Markdown table; --out also writes the numbers as JSON.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def run_eval(home: Path, out: Path) -> dict[str, Any]:
    env = {**os.environ, "PAPERCHAT_HOME": str(home), "PAPERCHAT_EMBED_PROVIDER": "minilm"}
    for var in ("PAPERCHAT_CONFIG", "PAPERCHAT_COLLECTION", "PAPERCHAT_CHROMA_URL"):
        env.pop(var, None)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "paperchat", "eval", "qa", "--engine",
                           "extractive", "--json", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"eval failed ({proc.returncode}):\n{proc.stderr}")
    data = json.loads(proc.stdout)
    m = data["metrics"]
    return {"wall_s": round(wall, 2), "eval_s": data["seconds"],
            "latency_p50_ms": m["latency_p50_ms"], "latency_p95_ms": m["latency_p95_ms"],
            "questions": data["questions"],
            "passed": sum(q["passed"] for q in data["per_question"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="warm runs")
    ap.add_argument("--home", type=Path, help="data dir to use (default: a new temp dir)")
    ap.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="paperchat-eval-bench-") as tmp:
        home = args.home or Path(tmp) / "home"
        cold = run_eval(home, Path(tmp) / "cold")
        warm = [run_eval(home, Path(tmp) / f"warm{i}") for i in range(args.runs)]
    walls = [w["wall_s"] for w in warm]
    result = {"cores": os.cpu_count(), "cold": cold, "warm": warm,
              "warm_median_s": statistics.median(walls), "warm_max_s": max(walls),
              "target_s": TARGET_S, "ok": max(walls) < TARGET_S}
    print("| run | wall s | eval s | answer p50 ms | answer p95 ms | passed |")
    print("|---|---|---|---|---|---|")
    for name, r in [("cold", cold), *((f"warm {i + 1}", w) for i, w in enumerate(warm))]:
        print(f"| {name} | {r['wall_s']:.1f} | {r['eval_s']:.1f} | {r['latency_p50_ms']:.0f} "
              f"| {r['latency_p95_ms']:.0f} | {r['passed']}/{r['questions']} |")
    print(f"\nwarm median {result['warm_median_s']:.1f} s, max {result['warm_max_s']:.1f} s "
          f"on {result['cores']} cores (target < {TARGET_S:.0f} s): "
          f"{'OK' if result['ok'] else 'TOO SLOW'}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
