"""Load benchmark of the HTTP server: POST /v1/ask (extractive engine) under concurrency.

Run:  python bench/load_server.py [--seconds 60] [--concurrency 1 8 32] [--json out.json]
      python bench/load_server.py --scenario ingest [--papers 300] [--clients 50]
      python bench/load_server.py --scenario abandon [--abandoned 45]

Sets up what a user would: a temporary PAPERCHAT_HOME, `paperchat ingest` of the bundled
collection with the real MiniLM model, then `paperchat serve` on a free loopback port. For
each concurrency level, that many clients send questions from the bundled QA suite
back-to-back for --seconds (and at most --max-requests). Reports throughput, latency
p50/p95/p99, errors and the server's resident memory before and after.
Issue-4 target on 2 cores: >= 30 req/s at concurrency 8 with p95 <= 400 ms.
`--url http://127.0.0.1:PORT` measures a server that is already running instead.

--scenario ingest (issue 13): --clients clients ask back-to-back (extractive) for --seconds
with no ingest (idle), then again while --papers SciFact-train abstracts are uploaded through
POST /v1/ingest, until it answers. Reports p50/p95 of both phases and their ratio (target:
p95 with ingest <= 3x idle p95, 0 errors), the ingest's duration, and the paper count
/readyz reported while the upload ran (what a reader sees mid-ingest).

--scenario burst: --clients different questions sent at once to a fresh server (nothing
cached: each answer embeds its papers' sentences), then the same on another fresh server 1 s
after the --papers upload began (the issue's measurement). Reports p50/p95/max of both.

--scenario abandon (issue 13): the server's llm engine streams from the tests' fake
OpenAI server (60 s replies); --abandoned non-streamed /v1/ask requests are sent and their
clients hang up after --abandon-after (3) s; then GET /v1/search is timed for 3 s. Reports
idle search latency, the searches after the abandonment, when search latency was back
within 3x of idle, and how long until the fake LLM saw every stream the server had opened
closed (answers still waiting for a slot had opened none).

--scenario noauth (issue 13): a server that needs a key; /healthz is timed idle, then while
--rounds (5) times --bodies (3) clients at once each send a --body-mb (17) MB JSON
question with no key, paced in 1 MiB pieces (/healthz is polled from another process).
Reports each upload's outcome and time to it, how many MiB the client got to send before
the answer (socket buffers take a few), /healthz latency meanwhile, and the server's
resident memory before and after; also the status of a truncated no-key body.
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
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.utils.chroma_server import free_port, stop_process, wait_until_ready  # noqa: E402
from tests.utils.fake_openai import FakeOpenAI, fake_openai_server  # noqa: E402

QA_SUITE = ROOT / "evals" / "suites" / "bundled_qa.jsonl"


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of `values`; nan when empty."""
    return float(np.quantile(values, q, method="nearest")) if values else float("nan")


def questions() -> list[str]:
    """The bundled QA suite's questions (answerable ones and ones the collection lacks)."""
    rows = [json.loads(line) for line in QA_SUITE.read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows]


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MiB (Linux /proc), None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@dataclass
class Server:
    url: str
    pid: int | None = None
    setup_s: dict[str, float] = field(default_factory=dict)


def _env(home: Path, embed: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERCHAT_", "OPENAI_"))}
    env.update(PAPERCHAT_HOME=str(home), PAPERCHAT_EMBED_PROVIDER=embed,
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


@contextmanager
def served(embed: str = "minilm", url: str | None = None, home: Path | None = None,
           extra_env: dict[str, str] | None = None,
           template: Path | None = None) -> Iterator[Server]:
    """A `paperchat serve` over the bundled collection in a temp home (or `url` as is)."""
    if url:
        yield Server(url.rstrip("/"))
        return
    own_home = home is None
    home = home or Path(tempfile.mkdtemp(prefix="paperchat-bench-"))
    if template is not None:  # a home with the bundled collection ingested: copied, reused
        shutil.copytree(template, home, dirs_exist_ok=True)
    env = {**_env(home, embed), **(extra_env or {})}
    paperchat = [sys.executable, "-m", "paperchat"]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    subprocess.run([*paperchat, "ingest", "--json"], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    timings["ingest_s"] = time.perf_counter() - t0
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([*paperchat, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=ROOT)
    server = Server(f"http://127.0.0.1:{port}", proc.pid, timings)
    try:
        wait_until_ready(f"{server.url}/readyz", proc, timeout=180)
        timings["startup_s"] = time.perf_counter() - t0
        yield server
    finally:
        stop_process(proc, timeout=30)
        if own_home:
            shutil.rmtree(home, ignore_errors=True)


@dataclass
class Level:
    concurrency: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # transport errors by type
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None

    async def ask(self, client: httpx.AsyncClient, question: str) -> None:
        """One extractive POST /v1/ask, recorded: its status, its latency if 200, else an
        error (transport errors count as status 0, by exception type in `failures`)."""
        t0 = time.perf_counter()
        try:
            status = (await client.post("/v1/ask", json={"question": question,
                                                         "engine": "extractive"})).status_code
        except httpx.HTTPError as e:
            status, name = 0, type(e).__name__
            self.failures[name] = self.failures.get(name, 0) + 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 200:
            self.latencies_ms.append((time.perf_counter() - t0) * 1000)
        else:
            self.errors += 1

    def summary(self) -> dict[str, object]:
        ok = len(self.latencies_ms)
        return {"concurrency": self.concurrency, "requests": ok + self.errors,
                "errors": self.errors, "seconds": round(self.seconds, 2),
                "throughput_rps": round(ok / self.seconds, 1) if self.seconds else 0.0,
                "p50_ms": round(pct(self.latencies_ms, 0.50), 1),
                "p95_ms": round(pct(self.latencies_ms, 0.95), 1),
                "p99_ms": round(pct(self.latencies_ms, 0.99), 1),
                "max_ms": round(max(self.latencies_ms, default=float("nan")), 1),
                "rss_before_mb": _round(self.rss_before_mb),
                "rss_after_mb": _round(self.rss_after_mb),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                **({"failures": self.failures} if self.failures else {})}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def run_level(url: str, concurrency: int, seconds: float, max_requests: int,
                    qs: list[str], headers: dict[str, str]) -> Level:
    """`concurrency` clients posting questions back-to-back until time or count runs out."""
    level = Level(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sent = 0
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60,
                                 headers=headers) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker(offset: int) -> None:
            nonlocal sent
            i = offset
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                body = {"question": qs[i % len(qs)], "engine": "extractive"}
                i += concurrency
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/ask", json=body)
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0
                elapsed = (time.perf_counter() - t0) * 1000
                level.statuses[status] = level.statuses.get(status, 0) + 1
                if status == 200:
                    level.latencies_ms.append(elapsed)
                else:
                    level.errors += 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        level.seconds = time.perf_counter() - start
    return level


SCIFACT = Path("/work/shared/benchmarks/scifact-train/corpus.jsonl")


def scifact_papers(n: int, path: Path = SCIFACT) -> list[dict[str, str]]:
    """The first `n` SciFact-train abstracts as an ingest JSON body (new ids)."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("title", "").strip() and row.get("text", "").strip():
                out.append({"id": f"scifact-{row['_id']}", "title": row["title"],
                            "abstract": row["text"]})
            if len(out) == n:
                break
    return out


async def _clients(client: httpx.AsyncClient, clients: int, qs: list[str],
                   until: asyncio.Event, level: Level) -> None:
    """`clients` workers asking back-to-back (extractive) until `until` is set."""
    async def worker(offset: int) -> None:
        i = offset
        while not until.is_set():
            await level.ask(client, qs[i % len(qs)])
            i += clients

    await asyncio.gather(*(worker(n) for n in range(clients)))


async def ingest_scenario(url: str, clients: int, seconds: float, papers: list[dict[str, str]],
                          qs: list[str], headers: dict[str, str]) -> dict[str, object]:
    """Asks with no ingest for `seconds`, then while `papers` are ingested over HTTP, then
    again with no ingest (the idle phases on both sides spread the shared machine's drift)."""
    # Idle connections are dropped after 2 s, before uvicorn's 5 s keep-alive timeout: a
    # request sent on a connection the server is closing at that moment fails (ReadError).
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2,
                          keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=600,
                                 headers=headers) as client:
        async def idle_phase() -> Level:
            level, stop = Level(clients), asyncio.Event()
            t0 = time.perf_counter()
            task = asyncio.create_task(_clients(client, clients, qs, stop, level))
            await asyncio.sleep(seconds)
            stop.set()
            await task
            level.seconds = time.perf_counter() - t0
            return level

        before = await idle_phase()
        busy, stop = Level(clients), asyncio.Event()
        seen: list[tuple[float, int]] = []
        t0 = time.perf_counter()

        async def watch() -> None:  # what a reader sees while the upload runs
            while not stop.is_set():
                r = await client.get("/readyz")
                seen.append((round(time.perf_counter() - t0, 2), r.json().get("papers", -1)))
                await asyncio.sleep(0.5)

        asking = asyncio.create_task(_clients(client, clients, qs, stop, busy))
        watching = asyncio.create_task(watch())
        await asyncio.sleep(0.5)  # the askers are under way before the upload starts
        t1 = time.perf_counter()
        r = await client.post("/v1/ingest", json=papers, timeout=3600)
        ingest_s = time.perf_counter() - t1
        stop.set()
        await asyncio.gather(asking, watching)
        busy.seconds = time.perf_counter() - t0
        after = await idle_phase()
    idle = Level(clients, latencies_ms=before.latencies_ms + after.latencies_ms)
    ratios = {f"{q}_ratio": round(pct(busy.latencies_ms, x) / pct(idle.latencies_ms, x), 2)
              for q, x in (("p50", 0.5), ("p95", 0.95))}
    report = r.json()
    return {"scenario": "ingest", "clients": clients, "idle_before": before.summary(),
            "with_ingest": busy.summary(), "idle_after": after.summary(),
            "idle_p50_ms": round(pct(idle.latencies_ms, 0.5), 1),
            "idle_p95_ms": round(pct(idle.latencies_ms, 0.95), 1),
            "idle_max_ms": round(max(idle.latencies_ms, default=float("nan")), 1), **ratios,
            "ingest": {"status": r.status_code, "seconds": round(ingest_s, 2),
                       "added": report.get("added"), "papers": report.get("papers")},
            "papers_seen_during_ingest": seen}


async def burst(url: str, clients: int, qs: list[str], headers: dict[str, str],
                papers: list[dict[str, str]] | None) -> dict[str, object]:
    """`clients` different questions at once on a server that has answered none of them
    (its sentence vectors not cached); with `papers`, 1 s after their ingest upload began."""
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=3600,
                                 headers=headers) as client:
        upload = asyncio.create_task(client.post("/v1/ingest", json=papers)) if papers \
            else None
        if upload is not None:
            await asyncio.sleep(1.0)
        level = Level(clients)

        t0 = time.perf_counter()
        await asyncio.gather(*(level.ask(client, q) for q in qs[:clients]))
        level.seconds = time.perf_counter() - t0
        out: dict[str, object] = level.summary()
        if upload is not None:
            r = await upload
            out["ingest"] = {"status": r.status_code, "papers": r.json().get("papers"),
                             "seconds": round(time.perf_counter() - t0 + 1, 1)}
        return out


async def abandon_scenario(url: str, fake: FakeOpenAI, abandoned: int, qs: list[str],
                           headers: dict[str, str], after_s: float) -> dict[str, object]:
    """`abandoned` non-streamed LLM asks whose clients leave after `after_s`; then searches."""
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as client:
        async def search() -> float:
            t0 = time.perf_counter()
            r = await client.get("/v1/search", params={"q": "graph neural network", "k": 5})
            r.raise_for_status()
            return (time.perf_counter() - t0) * 1000

        idle = [await search() for _ in range(20)]
        idle_p50 = pct(idle, 0.5)

        async def leave(question: str) -> None:
            async with httpx.AsyncClient(base_url=url, timeout=after_s, headers=headers) as c:
                with suppress(httpx.TimeoutException):
                    await c.post("/v1/ask", json={"question": question, "engine": "llm"})

        await asyncio.gather(*(leave(qs[i % len(qs)]) for i in range(abandoned)))
        t_left = time.perf_counter()
        after: list[tuple[float, float]] = []  # (seconds since the clients left, latency ms)
        while time.perf_counter() - t_left < 3.0:
            after.append((round(time.perf_counter() - t_left, 3), round(await search(), 1)))
        normal = next((t for t, ms in after if ms <= 3 * max(idle_p50, 1.0)), None)
        # Every LLM request that was made (answers still queued for a slot never made one)
        # has its stream closed by the server.
        closed = await asyncio.to_thread(lambda: fake.wait_for(
            lambda: fake.disconnects >= len(fake.chat_requests), timeout=30))
        closed_s = time.perf_counter() - t_left
    return {"scenario": "abandon", "abandoned": abandoned, "left_after_s": after_s,
            "llm_requests_seen": len(fake.chat_requests),
            "llm_streams_closed": fake.disconnects,
            "llm_streams_completed": fake.completed_streams,
            "all_closed_within_s": round(closed_s, 2) if closed else None,
            "idle_search_p50_ms": round(idle_p50, 1),
            "first_search_after_ms": after[0][1] if after else None,
            "searches_after": after[:10],
            "back_to_normal_after_s": normal}


_HEALTH_PROBE = """
import sys, time, urllib.request
while True:
    t0 = time.perf_counter()
    urllib.request.urlopen(sys.argv[1], timeout=30).read()
    print(round((time.perf_counter() - t0) * 1000, 2), flush=True)
    time.sleep(0.02)
"""


async def noauth_scenario(url: str, pid: int | None, bodies: int, body_mb: int,
                          rounds: int) -> dict[str, object]:
    """No-key uploads of `body_mb` MB at once, /healthz timed meanwhile (see the docstring)."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        async def health() -> float:
            t0 = time.perf_counter()
            (await client.get("/healthz")).raise_for_status()
            return (time.perf_counter() - t0) * 1000

        idle = [await health() for _ in range(30)]
        rss_before = rss_mb(pid) if pid else None
        truncated = await client.post("/v1/ask", content=b'{"question": "what is', headers={
            "Content-Type": "application/json"})
        host, port = url.removeprefix("http://").rsplit(":", 1)
        size = len(b'{"question": ""}') + (body_mb << 20)
        head = (f"POST /v1/ask HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
                f"\r\nContent-Length: {size}\r\n\r\n").encode()
        piece = b"x" * (1 << 16)

        async def upload() -> dict[str, object]:
            """One no-key upload over a raw connection: the body is sent while the answer
            is read, as curl does, so the time is that of the server's answer."""
            reader, writer = await asyncio.open_connection(host, int(port))
            sent = 0

            async def send() -> None:
                nonlocal sent
                writer.write(head + b'{"question": "')
                for _ in range(body_mb << 4):
                    writer.write(piece)
                    await writer.drain()
                    sent += len(piece)
                writer.write(b'"}')
                await writer.drain()

            t0 = time.perf_counter()
            sender = asyncio.create_task(send())
            try:
                line = await reader.readline()
            except OSError:
                line = b""
            ms = (time.perf_counter() - t0) * 1000
            at = sent
            sender.cancel()
            with suppress(asyncio.CancelledError, OSError):
                await sender
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()
            parts = line.split()
            return {"outcome": int(parts[1]) if len(parts) > 1 else "closed",
                    "ms": round(ms, 1), "mib_sent_before_answer": round(at / 2**20, 2)}

        # Polled from another process, so this one's uploading does not slow the probe.
        watcher = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _HEALTH_PROBE, f"{url}/healthz",
            stdout=asyncio.subprocess.PIPE)
        await asyncio.sleep(1.0)
        uploads: list[dict[str, object]] = []
        for _ in range(rounds):
            uploads += await asyncio.gather(*(upload() for _ in range(bodies)))
        await asyncio.sleep(1.0)
        watcher.terminate()
        out, _ = await watcher.communicate()
        during = [float(x) for x in out.decode().split()]
        rss_after = rss_mb(pid) if pid else None
    times = [float(str(u["ms"])) for u in uploads]
    return {"scenario": "noauth", "bodies": bodies, "body_mb": body_mb, "rounds": rounds,
            "outcomes": sorted({str(u["outcome"]) for u in uploads}),
            "upload_answered_p50_ms": round(pct(times, 0.5), 1),
            "upload_answered_max_ms": round(max(times), 1),
            "mib_sent_before_answer_max": max(float(str(u["mib_sent_before_answer"]))
                                              for u in uploads),
            "truncated_no_key_status": truncated.status_code, "uploads": uploads[:bodies],
            "healthz_idle_p50_ms": round(pct(idle, 0.5), 1),
            "healthz_during_p50_ms": round(pct(during, 0.5), 1),
            "healthz_during_max_ms": round(max(during, default=float("nan")), 1),
            "healthz_samples_during": len(during),
            "rss_before_mb": _round(rss_before), "rss_after_mb": _round(rss_after)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="Duration of each level.")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--max-requests", type=int, default=100_000,
                    help="Upper bound on requests per level.")
    ap.add_argument("--warmup", type=int, default=20, help="Requests before measuring.")
    ap.add_argument("--embed", default="minilm", choices=["minilm", "fake"],
                    help="Embedder of the server under test (fake: only to try the script).")
    ap.add_argument("--url", help="Measure this running server instead of starting one.")
    ap.add_argument("--api-key", default=os.environ.get("PAPERCHAT_BENCH_API_KEY"),
                    help="Bearer key for --url servers that need one.")
    ap.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    ap.add_argument("--scenario", choices=["levels", "ingest", "burst", "abandon",
                                                 "noauth"],
                    default="levels", help="levels: throughput per concurrency; ingest: "
                    "closed-loop asks during an HTTP ingest vs idle; burst: --clients cold "
                    "questions at once, idle vs 1 s into an ingest (fresh servers); abandon: "
                    "abandoned LLM asks, then search latency; noauth: large bodies with no key "
                    "vs /healthz.")
    ap.add_argument("--clients", type=int, default=50, help="ingest: concurrent askers.")
    ap.add_argument("--papers", type=int, default=300, help="ingest: papers uploaded.")
    ap.add_argument("--abandoned", type=int, default=45, help="abandon: asks left behind.")
    ap.add_argument("--abandon-after", type=float, default=3.0,
                    help="abandon: seconds before each of those clients hangs up.")
    ap.add_argument("--bodies", type=int, default=3, help="noauth: uploads at once.")
    ap.add_argument("--body-mb", type=int, default=17, help="noauth: MiB per upload.")
    ap.add_argument("--rounds", type=int, default=5, help="noauth: rounds of uploads.")
    ap.add_argument("--set", action="append", default=[], metavar="PAPERCHAT_X=VALUE",
                    help="A setting for the server under test (repeatable).")
    ap.add_argument("--home-template", type=Path, help="Copy this data dir (the bundled "
                    "collection already ingested with the same model) instead of ingesting "
                    "it afresh; the copy is deleted afterwards.")
    args = ap.parse_args()
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("--url must be a loopback address")
    if min(args.concurrency) < 1 or args.seconds <= 0 or args.seconds > 600:
        raise SystemExit("concurrency >= 1 and 0 < seconds <= 600")
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    qs = questions()
    if args.scenario != "levels":
        result = run_scenario(args, qs, headers)
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        return
    with served(args.embed, args.url) as server:
        asyncio.run(run_level(server.url, 1, 600, args.warmup, qs, headers))
        levels = []
        for c in args.concurrency:
            before = rss_mb(server.pid) if server.pid else None
            level = asyncio.run(run_level(server.url, c, args.seconds, args.max_requests, qs,
                                          headers))
            level.rss_before_mb, level.rss_after_mb = before, (
                rss_mb(server.pid) if server.pid else None)
            levels.append(level.summary())
            print(_row(levels[-1]), flush=True)
    result = {"endpoint": "POST /v1/ask (engine=extractive)", "embed": args.embed,
              "cores": os.cpu_count(), "setup": server.setup_s, "levels": levels}
    print(_table(levels))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def run_scenario(args: argparse.Namespace, qs: list[str],
                 headers: dict[str, str]) -> dict[str, object]:
    """The ingest or abandon scenario against a fresh server (see the module docstring)."""
    meta = {"embed": args.embed, "cores": os.cpu_count(), "settings": args.set,
            "load_before": [round(x, 2) for x in os.getloadavg()]}
    env = dict(kv.split("=", 1) for kv in args.set)
    if args.scenario == "burst":
        papers = scifact_papers(args.papers)
        phases = {}
        for phase in ("idle", "with_ingest"):  # each on a fresh server: caches cold alike
            with served(args.embed, args.url, template=args.home_template,
                        extra_env=env) as server:
                asyncio.run(run_level(server.url, 1, 600, 3, qs, headers))  # loads the model
                phases[phase] = asyncio.run(burst(server.url, args.clients, qs, headers,
                                                  papers if phase == "with_ingest" else None))
        ratios = {f"{q}_ratio": round(float(str(phases["with_ingest"][f"{q}_ms"]))
                                      / float(str(phases["idle"][f"{q}_ms"])), 2)
                  for q in ("p50", "p95")}
        return {"scenario": "burst", **phases, **ratios, **meta,
                "load_after": [round(x, 2) for x in os.getloadavg()]}
    if args.scenario == "noauth":
        env.setdefault("PAPERCHAT_API_KEY", "bench-key-not-sent")
        with served(args.embed, args.url, template=args.home_template,
                    extra_env=env) as server:
            result = asyncio.run(noauth_scenario(server.url, server.pid, args.bodies,
                                                 args.body_mb, args.rounds))
        return {**result, **meta, "load_after": [round(x, 2) for x in os.getloadavg()]}
    if args.scenario == "ingest":
        papers = scifact_papers(args.papers)
        with served(args.embed, args.url, template=args.home_template,
                    extra_env=dict(kv.split("=", 1) for kv in args.set)) as server:
            # Every question once: the answer's sentence vectors are cached, as they would
            # be on a server that has run for a while.
            asyncio.run(run_level(server.url, 4, 600, max(args.warmup, len(qs)), qs, headers))
            result = asyncio.run(ingest_scenario(server.url, args.clients, args.seconds,
                                                 papers, qs, headers))
        return {**result, **meta, "setup": server.setup_s,
                "load_after": [round(x, 2) for x in os.getloadavg()]}
    with fake_openai_server(default_reply=" ".join(["word"] * 1200)) as fake:
        fake.chunk_delay = 0.05  # a 60 s answer unless someone stops it
        env = {"PAPERCHAT_LLM_BASE_URL": fake.base_url, "PAPERCHAT_LLM_MAX_RETRIES": "0"}
        with served(args.embed, args.url, extra_env=env,
                    template=args.home_template) as server:
            result = asyncio.run(abandon_scenario(server.url, fake, args.abandoned, qs,
                                                  headers, args.abandon_after))
    return {**result, **meta, "load_after": [round(x, 2) for x in os.getloadavg()]}


def _row(s: dict[str, object]) -> str:
    return (f"c={s['concurrency']}: {s['throughput_rps']} req/s, p50 {s['p50_ms']} ms, "
            f"p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms, {s['errors']} errors "
            f"of {s['requests']} (statuses {s['statuses']}), RSS {s['rss_before_mb']} -> "
            f"{s['rss_after_mb']} MiB")


def _table(levels: list[dict[str, object]]) -> str:
    lines = ["| concurrency | requests | req/s | p50 ms | p95 ms | p99 ms | errors | "
             "RSS before → after (MiB) |", "|---|---|---|---|---|---|---|---|"]
    for s in levels:
        lines.append(f"| {s['concurrency']} | {s['requests']} | {s['throughput_rps']} | "
                     f"{s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['errors']} | "
                     f"{s['rss_before_mb']} → {s['rss_after_mb']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
