"""Longer fault runs against `paperchat serve` (the bounded versions run in tests/reliability).

Run:  python bench/faults.py [llm|chroma|kill9 ...] [--seconds 120] [--json out.json]

Each scenario sets up a temporary PAPERCHAT_HOME with the bundled collection (the real
MiniLM model unless --embed fake), serves it with `paperchat serve` on a free loopback port
and sends mixed traffic (ask, stream, OpenAI chat, chat follow-up, search) from
--concurrency clients while a fault is injected:
- llm: the fake OpenAI-compatible server answers each chat request with a random fault
  (429, 500, a stall longer than the timeout, a stream that stalls or is cut mid-answer);
- chroma: the collection lives in a `chroma run` server that is killed (SIGKILL) every
  --period seconds and restarted --down seconds later on the same port and path;
- kill9: `paperchat serve` is killed with SIGKILL during an HTTP ingest of --kill-papers
  new papers, --cycles times; after each restart the index is checked and the upload re-sent.
Every outcome is classified as in tests/reliability/load.py: answer, degraded, unavailable
(a documented 503 or stream error event) or bad. Everything is bounded in time and count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from load_server import pct, questions, rss_mb  # noqa: E402 - the script next to this one

from tests.reliability.chaos import chaos_openai_server  # noqa: E402
from tests.reliability.load import KINDS, LoadRun, Outcome  # noqa: E402
from tests.reliability.procs import (  # noqa: E402
    ChromaProcess,
    ServeProcess,
    inspect_collection,
    serve_env,
)


def _env(home: Path, embed: str, **extra: str) -> dict[str, str]:
    return serve_env(home, PAPERCHAT_EMBED_PROVIDER=embed, **extra)


def _ingest_bundled(env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "paperchat", "ingest", "--json"], env=env, cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - t0, 1)


def _latency(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    by: dict[str, list[float]] = {}
    for o in outcomes:
        by.setdefault(o.category, []).append(o.seconds * 1000)
    return {cat: {"n": len(v), "p50_ms": round(pct(v, 0.5), 1),
                  "p95_ms": round(pct(v, 0.95), 1), "max_ms": round(max(v), 1)}
            for cat, v in sorted(by.items())}


def _summary(run: LoadRun) -> dict[str, Any]:
    outcomes = list(run.outcomes)
    seconds = max((o.started + o.seconds for o in outcomes), default=0) - min(
        (o.started for o in outcomes), default=0)
    return {"requests": len(outcomes), "seconds": round(seconds, 1),
            "throughput_rps": round(len(outcomes) / seconds, 1) if seconds else 0.0,
            "outcomes": dict(run.tally()),
            "statuses": dict(Counter(str(o.status) for o in outcomes)),
            "codes": dict(Counter(o.code for o in outcomes if o.code)),
            "latency": _latency(outcomes), "http_500": sum(o.status == 500 for o in outcomes),
            "bad_examples": [o.__dict__ for o in run.bad()[:5]]}


# -- llm --------------------------------------------------------------------------------
def scenario_llm(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    home = tmp / "home"
    base_env = _env(home, args.embed)
    ingest_s = _ingest_bundled(base_env)
    timeout, retries = args.llm_timeout, 1
    budget = 2 * ((retries + 1) * timeout + retries * 1.0) + 3.0
    with chaos_openai_server(seed=args.seed, stall_seconds=timeout * 2.5) as chaos:
        env = {**base_env, "OPENAI_BASE_URL": chaos.base_url,
               "PAPERCHAT_LLM_TIMEOUT": str(timeout), "PAPERCHAT_LLM_MAX_RETRIES": str(retries)}
        serve = ServeProcess(env, tmp / "serve-llm.log", log_level="warning").start()
        try:
            assert serve.proc is not None
            rss_before = rss_mb(serve.proc.pid)
            run = LoadRun(f"{serve.url}/v1", workers=args.concurrency, kinds=KINDS,
                          max_requests=args.max_requests, max_seconds=args.seconds,
                          timeout=budget + 30, questions=questions()).start()
            run.join()
            rss_after = rss_mb(serve.proc.pid)
            alive = httpx.get(f"{serve.url}/healthz", timeout=10).status_code == 200
            chaos.calm()
            after = httpx.post(f"{serve.url}/v1/ask", json={"question": questions()[0]},
                               timeout=budget)
        finally:
            serve.stop()
    slowest = max((o.seconds for o in run.outcomes), default=0.0)
    return {"scenario": "llm", "ingest_s": ingest_s, "llm_timeout_s": timeout,
            "llm_max_retries": retries, "budget_s": budget, "faults": dict(chaos.tally),
            **_summary(run), "slowest_s": round(slowest, 2),
            "server_alive": alive, "rss_mb": [rss_before, rss_after],
            "llm_answer_after_recovery": after.status_code == 200
            and after.json().get("engine") == "llm" and not after.json().get("degraded"),
            "ok": not run.bad() and alive and slowest <= budget}


# -- chroma -----------------------------------------------------------------------------
def _watch_readyz(url: str, stop: threading.Event, timeline: list[tuple[float, int]]) -> None:
    last = None
    with httpx.Client(timeout=5) as http:
        while not stop.is_set():
            try:
                status = http.get(f"{url}/readyz").status_code
            except httpx.HTTPError:
                status = 0
            if status != last:
                timeline.append((time.monotonic(), status))
                last = status
            time.sleep(0.1)


def scenario_chroma(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    chroma = ChromaProcess(tmp / "chroma").start()
    env = _env(tmp / "home", args.embed, PAPERCHAT_CHROMA_URL=chroma.url)
    cycles: list[dict[str, Any]] = []
    try:
        ingest_s = _ingest_bundled(env)
        serve = ServeProcess(env, tmp / "serve-chroma.log", log_level="warning").start()
        timeline: list[tuple[float, int]] = []
        stop = threading.Event()
        watcher = threading.Thread(target=_watch_readyz, args=(serve.url, stop, timeline),
                                   daemon=True)
        try:
            watcher.start()
            run = LoadRun(f"{serve.url}/v1", workers=args.concurrency, kinds=KINDS,
                          max_requests=args.max_requests, max_seconds=args.seconds,
                          timeout=60, questions=questions()).start()
            end = time.monotonic() + args.seconds - args.period
            while time.monotonic() < end and len(cycles) < args.cycles:
                time.sleep(args.period - args.down)
                killed = time.monotonic()
                chroma.kill()
                time.sleep(args.down)
                restarted = time.monotonic()
                chroma.start()
                cycles.append({"killed": killed, "restarted": restarted,
                               "up": time.monotonic()})
            run.join()
            stop.set()
            watcher.join(timeout=10)
        finally:
            stop.set()
            serve.stop()
    finally:
        chroma.stop()
    report = []
    for c in cycles:
        down = next((t for t, s in timeline if t >= c["killed"] and s == 503), None)
        ready = next((t for t, s in timeline if t >= c["restarted"] and s == 200), None)
        during = [o for o in run.outcomes if c["killed"] <= o.started < c["restarted"]]
        report.append({
            "readyz_503_after_s": None if down is None else round(down - c["killed"], 2),
            "chroma_restart_s": round(c["up"] - c["restarted"], 2),
            "readyz_200_after_restart_s": None if ready is None else round(
                ready - c["restarted"], 2),
            "requests_during_outage": dict(Counter(o.category for o in during))})
    return {"scenario": "chroma", "ingest_s": ingest_s, "period_s": args.period,
            "down_s": args.down, "cycles": report, **_summary(run),
            "ok": not run.bad() and all(c["readyz_503_after_s"] is not None
                                        and c["readyz_200_after_restart_s"] is not None
                                        for c in report)}


# -- kill9 ------------------------------------------------------------------------------
def _papers(cycle: int, n: int) -> list[dict[str, str]]:
    return [{"id": f"k{cycle}-{i}", "title": f"Fault cycle {cycle} paper {i} on sensor drift",
             "abstract": f"We measure sensor drift {i} in cycle {cycle} with a calibrated "
             f"reference and report a {i % 7}.{i % 10} percent error after correction."}
            for i in range(n)]


def scenario_kill9(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    home = tmp / "home"
    env = _env(home, args.embed)
    ingest_s = _ingest_bundled(env)
    cycles = []
    deadline = time.monotonic() + args.seconds
    for cycle in range(args.cycles):
        if time.monotonic() > deadline:
            break
        before = inspect_collection(home)
        body = _papers(cycle, args.kill_papers)
        serve = ServeProcess(env, tmp / "serve-kill.log", log_level="warning").start()
        base = len(before["papers"])
        sent: dict[str, Any] = {}

        def post(url: str = serve.url, payload: list[dict[str, str]] = body,
                 out: dict[str, Any] = sent) -> None:
            try:
                out["r"] = httpx.post(f"{url}/v1/ingest", json=payload, timeout=600)
            except httpx.HTTPError as e:
                out["e"] = type(e).__name__

        sender = threading.Thread(target=post, daemon=True)
        sender.start()
        seen, t_end = base, time.monotonic() + 300
        while seen <= base and sender.is_alive() and time.monotonic() < t_end:
            seen = httpx.get(f"{serve.url}/readyz", timeout=30).json()["papers"]
            time.sleep(0.02)
        serve.kill9()
        sender.join(timeout=60)
        killed = inspect_collection(home)
        t0 = time.monotonic()
        serve = ServeProcess(env, tmp / "serve-kill.log", log_level="warning").start()
        restart_s = time.monotonic() - t0
        try:
            ready = httpx.get(f"{serve.url}/readyz", timeout=60).json()
            rerun = httpx.post(f"{serve.url}/v1/ingest", json=body, timeout=600).json()
        finally:
            serve.stop()
        final = inspect_collection(home, keyword=True)
        present = len(killed["papers"])
        cycles.append({
            "cycle": cycle, "killed_mid_write": bool(killed["write_in_progress"]) and "e" in sent,
            "papers_before": base, "papers_at_kill": present,
            "half_written": len(killed["incomplete"]),
            "previous_papers_kept": set(before["papers"]) <= set(killed["papers"]),
            "restart_s": round(restart_s, 1), "readyz_papers": ready.get("papers"),
            "rerun_added": rerun.get("added"), "rerun_papers": rerun.get("papers"),
            "final_consistent": not final["write_in_progress"] and not final["incomplete"]
            and final["keyword"] == final["chunks"]
            and len(final["papers"]) == base + args.kill_papers})
    ok = all(c["killed_mid_write"] and c["half_written"] == 0 and c["previous_papers_kept"]
             and c["readyz_papers"] == c["papers_at_kill"] and c["final_consistent"]
             and c["rerun_added"] == c["papers_before"] + args.kill_papers - c["papers_at_kill"]
             for c in cycles)
    return {"scenario": "kill9", "ingest_s": ingest_s, "papers_per_upload": args.kill_papers,
            "cycles": cycles, "ok": ok and bool(cycles)}


SCENARIOS = {"llm": scenario_llm, "chroma": scenario_chroma, "kill9": scenario_kill9}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("scenarios", nargs="*", metavar="scenario",
                    help=f"Any of {', '.join(SCENARIOS)} (default: all).")
    ap.add_argument("--seconds", type=float, default=120.0,
                    help="Load time per scenario (kill9: time budget for its cycles).")
    ap.add_argument("--concurrency", type=int, default=6, help="Clients sending requests.")
    ap.add_argument("--max-requests", type=int, default=100_000,
                    help="Upper bound on requests per scenario.")
    ap.add_argument("--embed", default="minilm", choices=["minilm", "fake"])
    ap.add_argument("--seed", type=int, default=7, help="Seed of the LLM fault draws.")
    ap.add_argument("--llm-timeout", type=float, default=2.0, help="PAPERCHAT_LLM_TIMEOUT.")
    ap.add_argument("--period", type=float, default=20.0,
                    help="chroma: seconds between two kills.")
    ap.add_argument("--down", type=float, default=5.0,
                    help="chroma: seconds the server stays dead.")
    ap.add_argument("--cycles", type=int, default=5, help="chroma/kill9: at most this many.")
    ap.add_argument("--kill-papers", type=int, default=1000,
                    help="kill9: papers per interrupted upload.")
    ap.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = ap.parse_args(argv)
    if not 0 < args.seconds <= 1800 or args.concurrency < 1 or not 0 < args.down < args.period:
        raise SystemExit("0 < seconds <= 1800, concurrency >= 1, 0 < down < period")
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(SCENARIOS)}")
    results = []
    for name in dict.fromkeys(args.scenarios or SCENARIOS):
        tmp = Path(tempfile.mkdtemp(prefix=f"paperchat-faults-{name}-"))
        try:
            result = SCENARIOS[name](args, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        result["cores"] = os.cpu_count()
        results.append(result)
        print(json.dumps(result, indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
