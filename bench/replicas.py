"""Scale-out benchmark (issue 15): replicas on one Chroma server and one PostgreSQL.

Run:  python bench/replicas.py [--seconds 30] [--concurrency 8 32] [--runs 20]
          [--embed minilm] [--json out.json]

Three set-ups, each measured with the same client load (POST /v1/ask, engine=extractive,
questions of the bundled QA suite, `c` clients asking back-to-back, spread round-robin
over the replicas as a load balancer would):
- `one-embedded`: one replica, embedded Chroma and the SQLite sessions file (the default);
- `one-server`:   one replica on `chroma run` + PostgreSQL (the cost of the servers alone);
- `two-server`:   two replicas on the same `chroma run` + PostgreSQL.
Then, on `two-server`, `--runs` times: one new paper is ingested through replica A (POST
/v1/ingest returns when it is committed) and replica B is searched (BM25, then dense) every
20 ms until both find it; the time from A's answer to B finding it is reported (p50/max).
PostgreSQL runs with fsync on (tests/utils/postgres.py, durable=True). Everything runs on
this machine: on 2 shared cores the replicas, Chroma, PostgreSQL and the load generator
compete for the same CPUs, so expect well under 2x; see BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load_server import questions  # noqa: E402
from tests.utils.chroma_server import ChromaProcess  # noqa: E402
from tests.utils.postgres import PostgresServer  # noqa: E402
from tests.utils.replicas import Replica  # noqa: E402

ADMIN_KEY = "bench-admin-key-0123456789"


def pct(values: list[float], q: float) -> float:
    return float(np.quantile(values, q, method="nearest")) if values else float("nan")


def base_env(embed: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERCHAT_", "OPENAI_"))}
    env.update(PAPERCHAT_EMBED_PROVIDER=embed, PAPERCHAT_ADMIN_KEY=ADMIN_KEY,
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def cli_ingest(home: Path, env: dict[str, str]) -> None:
    """The bundled collection, as `paperchat ingest` writes it."""
    subprocess.run([sys.executable, "-m", "paperchat", "ingest", "--json"], cwd=ROOT,
                   env={**env, "PAPERCHAT_HOME": str(home), "PYTHONPATH": str(ROOT)},
                   check=True, stdout=subprocess.DEVNULL)


@contextmanager
def setup(kind: str, root: Path, embed: str, pg: PostgresServer | None) -> Iterator[
        list[Replica]]:
    """The replicas of one set-up, started over the bundled collection."""
    env = base_env(embed)
    with ExitStack() as stack:
        if kind != "one-embedded":
            assert pg is not None
            chroma = ChromaProcess(root / f"{kind}-chroma").start()
            stack.callback(chroma.stop)
            env.update(PAPERCHAT_CHROMA_URL=chroma.url,
                       PAPERCHAT_DATABASE_URL=pg.create_database("bench"))
        cli_ingest(root / f"{kind}-ingest", env)
        n = 2 if kind == "two-server" else 1
        homes = [root / f"{kind}-ingest"] if kind == "one-embedded" else \
            [root / f"{kind}-{i}" for i in range(n)]
        replicas = []
        for i, home in enumerate(homes):
            replica = Replica(home, {"PAPERCHAT_HOME": str(home), **env}, name=f"{kind}-{i}")
            replicas.append(replica.start(timeout=300))
            stack.callback(replica.stop)
        yield replicas


async def load(urls: list[str], concurrency: int, seconds: float, qs: list[str]
               ) -> dict[str, object]:
    """`concurrency` clients, client i on replica i % len(urls), for `seconds`."""
    lat: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker(n: int) -> None:
            nonlocal errors
            i, url = n, urls[n % len(urls)]
            while time.perf_counter() < deadline:
                body = {"question": qs[i % len(qs)], "engine": "extractive"}
                i += concurrency
                t0 = time.perf_counter()
                try:
                    ok = (await client.post(f"{url}/v1/ask", json=body)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    lat.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"concurrency": concurrency, "requests": len(lat) + errors, "errors": errors,
            "throughput_rps": round(len(lat) / elapsed, 1),
            "p50_ms": round(pct(lat, 0.5), 1), "p95_ms": round(pct(lat, 0.95), 1)}


def propagation(a: Replica, b: Replica, runs: int) -> dict[str, object]:
    """Seconds from an ingest answered by A to B finding the paper (BM25 and dense)."""
    times: dict[str, list[float]] = {"bm25": [], "dense": [], "both": []}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(timeout=60) as client:
        for run in range(runs):
            word = f"zyxqua{run:03d}"
            paper = {"id": f"prop-{run}", "title": f"The {word} effect in tidal marshes",
                     "abstract": f"We describe the {word} effect: marsh grasses and tides "
                     f"interact in run {run} of this benchmark."}
            r = client.post(f"{a.url}/v1/ingest", json=[paper], headers=admin)
            r.raise_for_status()
            done = time.perf_counter()
            found: dict[str, float] = {}
            while len(found) < 2 and time.perf_counter() - done < 60:
                for mode in ("bm25", "dense"):
                    if mode in found:
                        continue
                    hits = client.get(f"{b.url}/v1/search", params={
                        "q": f"{word} effect tidal marshes", "mode": mode, "k": 3}).json()
                    if any(h["paper_id"] == paper["id"] for h in hits["results"]):
                        found[mode] = time.perf_counter() - done
                time.sleep(0.02)
            for mode, t in found.items():
                times[mode].append(t)
            times["both"].append(max(found.values()) if len(found) == 2 else float("inf"))
    return {mode: {"p50_s": round(pct(v, 0.5), 3), "max_s": round(max(v), 3), "runs": len(v)}
            for mode, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--runs", type=int, default=20, help="Propagation runs.")
    ap.add_argument("--setups", nargs="+", default=["one-embedded", "one-server",
                                                    "two-server"])
    ap.add_argument("--embed", default="minilm", choices=["minilm", "fake"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    qs = questions()
    root = Path(tempfile.mkdtemp(prefix="paperchat-replicas-bench-"))
    result: dict[str, object] = {"cores": os.cpu_count(), "embed": args.embed,
                                 "load_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        with PostgresServer(durable=True) as pg:
            for kind in args.setups:
                with setup(kind, root, args.embed, pg) as replicas:
                    urls = [r.url for r in replicas]
                    asyncio.run(load(urls, 2, 5, qs))  # warm-up
                    levels = []
                    for c in args.concurrency:
                        levels.append(asyncio.run(load(urls, c, args.seconds, qs)))
                        print(kind, json.dumps(levels[-1]), flush=True)
                    result[kind] = levels
                    if kind == "two-server" and args.runs:
                        result["propagation"] = propagation(replicas[0], replicas[1],
                                                            args.runs)
                        print("propagation", json.dumps(result["propagation"]), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
