"""Streaming latency of the HTTP server: time to the first `token` event of /v1/ask/stream.

Run:  python bench/stream_ttft.py [--requests 100] [--concurrency 1] [--json out.json]

Same setup as bench/load_server.py (temporary PAPERCHAT_HOME, bundled collection ingested
with the real MiniLM model, `paperchat serve` on a free loopback port), extractive engine.
Each request is timed from sending the body to the first `event: token` line (and to the
`sources` event, and to the end of the stream). The first --warmup requests are not
counted. `--url` measures a server that is already running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_server import pct, questions, served  # the script next to this one


async def one(client: httpx.AsyncClient, question: str, engine: str) -> dict[str, float]:
    """Milliseconds to the sources event, the first token and the end of one stream."""
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    async with client.stream("POST", "/v1/ask/stream",
                             json={"question": question, "engine": engine}) as r:
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        async for line in r.aiter_lines():
            now = (time.perf_counter() - t0) * 1000
            if line == "event: sources":
                marks.setdefault("sources_ms", now)
            elif line == "event: token":
                marks.setdefault("first_token_ms", now)
            elif line == "event: error":
                raise RuntimeError("error event")
    marks["total_ms"] = (time.perf_counter() - t0) * 1000
    return marks


async def run(url: str, n: int, warmup: int, concurrency: int, engine: str,
              headers: dict[str, str]) -> tuple[list[dict[str, float]], int]:
    qs = questions()
    results: list[dict[str, float]] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as client:
        for i in range(warmup):
            await one(client, qs[i % len(qs)], engine)
        queue = list(range(warmup, warmup + n))

        async def worker() -> None:
            nonlocal errors
            while queue:
                i = queue.pop(0)
                try:
                    results.append(await one(client, qs[i % len(qs)], engine))
                except (httpx.HTTPError, RuntimeError):
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--engine", default="extractive", choices=["extractive", "auto", "llm"])
    ap.add_argument("--embed", default="minilm", choices=["minilm", "fake"])
    ap.add_argument("--url", help="Measure this running server instead of starting one.")
    ap.add_argument("--api-key", default=os.environ.get("PAPERCHAT_BENCH_API_KEY"))
    ap.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = ap.parse_args()
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("--url must be a loopback address")
    if not 1 <= args.requests <= 10_000 or args.concurrency < 1:
        raise SystemExit("1 <= requests <= 10000 and concurrency >= 1")
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    with served(args.embed, args.url) as server:
        results, errors = asyncio.run(run(server.url, args.requests, args.warmup,
                                          args.concurrency, args.engine, headers))
    stats = {key: {"p50": round(pct([r[key] for r in results if key in r], 0.5), 1),
                   "p95": round(pct([r[key] for r in results if key in r], 0.95), 1)}
             for key in ("sources_ms", "first_token_ms", "total_ms")}
    summary = {"endpoint": "POST /v1/ask/stream", "engine": args.engine, "embed": args.embed,
               "concurrency": args.concurrency, "requests": len(results), "errors": errors,
               **stats}
    print(f"time to first token: p50 {stats['first_token_ms']['p50']} ms, "
          f"p95 {stats['first_token_ms']['p95']} ms; sources p50 {stats['sources_ms']['p50']} "
          f"ms; whole answer p50 {stats['total_ms']['p50']} ms ({len(results)} streams, "
          f"{errors} errors)")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
