"""Soak test of the HTTP server: mixed ask/search/stream traffic with an ingest every minute.

Run:  python bench/soak.py [--minutes 10] [--concurrency 4] [--json out.json]

Same setup as bench/load_server.py: a temporary PAPERCHAT_HOME, `paperchat ingest` of the
bundled collection with the real MiniLM model, `paperchat serve` on a free loopback port.
Then, for --minutes, --concurrency clients send back-to-back requests (POST /v1/ask,
POST /v1/ask/stream, GET /v1/search; one ask in --session-every continues one of three chat
sessions, which therefore grow all along, reported as "session"), while an
ingest of 5 new papers plus 1 changed one goes to POST /v1/ingest every --ingest-every
seconds. Reported per window (one minute by default): requests, errors, p50/p95/p99 per
kind; and every 5 s the server's resident memory, threads and open file descriptors.
Targets (issue 7): no errors; RSS growth after warm-up (the first --warmup seconds)
within 10 %. Bounded: at most 120 minutes and --max-requests requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_server import pct, questions, rss_mb, served  # the script next to this one

KINDS = ("ask", "stream", "search")
REPORTED = (*KINDS, "session")  # "session": an ask that continues a chat session


def proc_counts(pid: int) -> tuple[int | None, int | None]:
    """(threads, open file descriptors) of a process (Linux /proc), None elsewhere."""
    try:
        threads = int(next(line.split()[1] for line in
                           Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("Threads:")))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration, ValueError):
        return None, None
    return threads, fds


@dataclass
class Soak:
    start: float
    window: float
    latencies: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    errors: dict[int, list[str]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    ingests: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0

    def slot(self, t: float) -> int:
        return int((t - self.start) // self.window)

    def record(self, t0: float, kind: str, ms: float | None, error: str | None) -> None:
        slot = self.slot(t0)
        if error is None and ms is not None:
            self.latencies.setdefault((slot, kind), []).append(ms)
        else:
            self.errors.setdefault(slot, []).append(f"{kind}: {error}")

    def windows(self) -> list[dict[str, Any]]:
        slots = sorted({s for s, _ in self.latencies} | set(self.errors))
        out = []
        for s in slots:
            row: dict[str, Any] = {"minute": round((s + 1) * self.window / 60, 2),
                                   "errors": len(self.errors.get(s, []))}
            every: list[float] = []
            for kind in REPORTED:
                values = self.latencies.get((s, kind), [])
                every += values
                row[kind] = {"n": len(values), **{
                    f"p{q}_ms": _r(pct(values, q / 100)) if values else None
                    for q in (50, 95, 99)}}
            row["requests"] = len(every) + row["errors"]
            row["p95_ms"] = _r(pct(every, 0.95)) if every else None
            rss = [x["rss_mb"] for x in self.samples
                   if x["rss_mb"] is not None and self.slot(x["t"]) == s]
            row["rss_mb"] = _r(max(rss)) if rss else None
            out.append(row)
        return out


def _r(value: float) -> float:
    return round(value, 1)


async def _one(client: httpx.AsyncClient, kind: str, question: str,
               session: str | None) -> None:
    """One request; raises on anything but a complete answer."""
    if kind == "search":
        r = await client.get("/v1/search", params={"q": question, "k": 10})
        r.raise_for_status()
        return
    body: dict[str, Any] = {"question": question}
    if session:
        body["session_id"] = session
    if kind == "ask":
        r = await client.post("/v1/ask", json=body)
        r.raise_for_status()
        if "answer" not in r.json():
            raise RuntimeError("no answer in the body")
        return
    last = ""
    async with client.stream("POST", "/v1/ask/stream", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                last = line[6:].strip()
    if last != "done":
        raise RuntimeError(f"stream ended with {last or 'nothing'}")


async def _client(n: int, client: httpx.AsyncClient, soak: Soak, qs: list[str],
                  deadline: float, max_requests: int, sessions: list[str],
                  session_every: int) -> None:
    i = n
    while time.monotonic() < deadline and soak.sent < max_requests:
        soak.sent += 1
        kind = KINDS[i % len(KINDS)]
        question = qs[(i * 7) % len(qs)]
        session = (sessions[i % len(sessions)] if kind == "ask" and session_every
                   and i % session_every == 0 else None)
        i += 1
        t0 = time.monotonic()
        label = "session" if session else kind
        try:
            await _one(client, kind, question, session)
            soak.record(t0, label, (time.monotonic() - t0) * 1000, None)
        except (httpx.HTTPError, RuntimeError, ValueError) as e:
            soak.record(t0, label, None, f"{type(e).__name__}: {str(e)[:120]}")


def _new_papers(round_no: int) -> list[dict[str, Any]]:
    topics = ["tidal energy forecasting", "coral reef imaging", "glacier melt sensing",
              "urban heat islands", "soil carbon mapping"]
    papers = [{"id": f"soak-{round_no}-{j}", "title": f"Soak round {round_no}: {t} study {j}",
               "abstract": f"We study {t} with method {round_no}.{j}. Results improve "
               f"accuracy by {j + round_no} points over baselines on three datasets."}
              for j, t in enumerate(topics)]
    # One paper changed every round: the incremental path that replaces a version.
    papers.append({"id": "soak-changing", "title": "A paper revised every minute",
                   "abstract": f"Revision {round_no} of an abstract about river flow models."})
    return papers


async def _ingester(client: httpx.AsyncClient, soak: Soak, every: float,
                    deadline: float) -> None:
    round_no = 0
    while True:
        await asyncio.sleep(max(0.0, min(every, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            return
        round_no += 1
        t0 = time.monotonic()
        try:
            r = await client.post("/v1/ingest", json=_new_papers(round_no), timeout=300)
            r.raise_for_status()
            report = r.json()
            soak.ingests.append({"round": round_no, "t_s": _r(t0 - soak.start),
                                 "seconds": _r(time.monotonic() - t0),
                                 "papers": report["papers"], "added": report["added"],
                                 "updated": report["updated"]})
        except (httpx.HTTPError, ValueError) as e:
            soak.errors.setdefault(soak.slot(t0), []).append(f"ingest: {e}")
            soak.ingests.append({"round": round_no, "error": str(e)[:120]})


async def _sampler(soak: Soak, pid: int | None, deadline: float, every: float = 5.0) -> None:
    while True:
        now = time.monotonic()
        threads, fds = proc_counts(pid) if pid else (None, None)
        soak.samples.append({"t": now, "t_s": _r(now - soak.start),
                             "rss_mb": rss_mb(pid) if pid else None,
                             "threads": threads, "fds": fds})
        if now >= deadline:
            return
        await asyncio.sleep(min(every, max(0.0, deadline - now)))


async def soak_run(url: str, pid: int | None, *, seconds: float, concurrency: int,
                   ingest_every: float, window: float, max_requests: int,
                   headers: dict[str, str], session_every: int = 10) -> Soak:
    qs = questions()
    limits = httpx.Limits(max_connections=concurrency + 2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits,
                                 headers=headers) as client:
        sessions = []
        for _ in range(3):
            r = await client.post("/v1/sessions", json={"title": "soak"})
            r.raise_for_status()
            sessions.append(r.json()["id"])
        # Warm up what the first minute would otherwise pay for: the answer path and the
        # ingest path (the chunker and its imports load on the first ingest).
        for q in qs[:10]:
            await _one(client, "ask", q, None)
        (await client.post("/v1/ingest", json=_new_papers(0), timeout=300)).raise_for_status()
        start = time.monotonic()
        soak = Soak(start, window)
        deadline = start + seconds
        await asyncio.gather(
            _sampler(soak, pid, deadline),
            _ingester(client, soak, ingest_every, deadline),
            *(_client(n, client, soak, qs, deadline, max_requests, sessions, session_every)
              for n in range(concurrency)))
    return soak


def summarise(soak: Soak, warmup: float, args: argparse.Namespace,
              setup: dict[str, float]) -> dict[str, Any]:
    windows = soak.windows()
    after = [x for x in soak.samples if x["t_s"] >= warmup and x["rss_mb"] is not None]
    warm = after[0]["rss_mb"] if after else None
    last = [x["rss_mb"] for x in after[-6:]]  # the last ~30 s
    end = statistics.median(last) if last else None
    peak = max((x["rss_mb"] for x in after), default=None)
    growth = (end - warm) / warm * 100 if warm and end is not None else None
    fds = [x["fds"] for x in after if x["fds"] is not None]
    threads = [x["threads"] for x in after if x["threads"] is not None]
    total = sum(w["requests"] for w in windows)
    errors = sum(w["errors"] for w in windows)
    return {
        "minutes": args.minutes, "concurrency": args.concurrency, "embed": args.embed,
        "session_every": args.session_every,
        "cores": os.cpu_count(), "setup": setup, "requests": total, "errors": errors,
        "throughput_rps": _r(total / (args.minutes * 60)) if args.minutes else None,
        "ingests": soak.ingests, "windows": windows,
        "rss_mb": {"after_warmup": _r(warm) if warm else None,
                   "end": _r(end) if end else None, "peak": _r(peak) if peak else None,
                   "growth_pct": None if growth is None else _r(growth)},
        "fds": {"after_warmup": fds[0] if fds else None, "end": fds[-1] if fds else None},
        "threads": {"after_warmup": threads[0] if threads else None,
                    "end": threads[-1] if threads else None},
        "samples": [{k: v for k, v in x.items() if k != "t"} for x in soak.samples],
        "error_examples": [e for errs in soak.errors.values() for e in errs][:10],
        "targets_met": errors == 0 and growth is not None and growth <= 10.0,
    }


def table(result: dict[str, Any]) -> str:
    lines = ["| minute | requests | errors | p95 all ms | ask p50/p95 ms | stream p50/p95 ms "
             "| search p50/p95 ms | session ask p50/p95 ms | RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for w in result["windows"]:
        cells = [f"{w[k]['p50_ms']}/{w[k]['p95_ms']}" if w[k]["n"] else "-" for k in REPORTED]
        lines.append(f"| {w['minute']} | {w['requests']} | {w['errors']} | {w['p95_ms']} | "
                     + " | ".join(cells) + f" | {w['rss_mb']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="Length of the soak.")
    ap.add_argument("--concurrency", type=int, default=4, help="Clients sending requests.")
    ap.add_argument("--ingest-every", type=float, default=60.0,
                    help="Seconds between two ingests over HTTP.")
    ap.add_argument("--window", type=float, default=60.0,
                    help="Seconds per reported window (p95 over time).")
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="Seconds before the RSS baseline is taken.")
    ap.add_argument("--max-requests", type=int, default=1_000_000,
                    help="Upper bound on requests.")
    ap.add_argument("--session-every", type=int, default=10,
                    help="One ask in this many continues one of 3 chat sessions (0: none).")
    ap.add_argument("--embed", default="minilm", choices=["minilm", "fake"],
                    help="Embedder of the server under test (fake: only to try the script).")
    ap.add_argument("--url", help="Soak this running server instead of starting one "
                    "(memory is sampled only with --pid).")
    ap.add_argument("--pid", type=int, help="Process id of the --url server.")
    ap.add_argument("--api-key", default=os.environ.get("PAPERCHAT_BENCH_API_KEY"),
                    help="Bearer key for --url servers that need one.")
    ap.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = ap.parse_args(argv)
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("--url must be a loopback address")
    if not 0 < args.minutes <= 120 or args.concurrency < 1 or args.ingest_every <= 0:
        raise SystemExit("0 < minutes <= 120, concurrency >= 1, ingest-every > 0")
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    with served(args.embed, args.url) as server:
        pid = server.pid or args.pid
        soak = asyncio.run(soak_run(server.url, pid, seconds=args.minutes * 60,
                                    concurrency=args.concurrency,
                                    ingest_every=args.ingest_every, window=args.window,
                                    max_requests=args.max_requests, headers=headers,
                                    session_every=args.session_every))
    result = summarise(soak, args.warmup, args, server.setup_s)
    print(table(result))
    print(f"requests {result['requests']} ({result['throughput_rps']} req/s), errors "
          f"{result['errors']}, ingests {len(result['ingests'])}, RSS after warm-up "
          f"{result['rss_mb']['after_warmup']} MiB -> end {result['rss_mb']['end']} MiB "
          f"(peak {result['rss_mb']['peak']}, growth {result['rss_mb']['growth_pct']} %), "
          f"fds {result['fds']}, threads {result['threads']}")
    if result["error_examples"]:
        print("errors:", *result["error_examples"], sep="\n  ")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
