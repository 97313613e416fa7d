"""TUI latency (issue 5 targets): first paint, ready, and frame stalls while an answer streams.

Run:  python bench/tui_latency.py [--runs 3] [--provider minilm|fake]
                                  [--engine scripted|real|both] [--json out.json]

1. Launch to first paint and launch to ready: `python -m paperchat chat` in a pseudo-terminal
   (120x36) over a data dir that already holds the bundled collection. First paint = the
   prompt's placeholder appears on the terminal; ready = the status bar shows the paper count
   (store opened, embedding model loaded and warmed). Target: first paint <= 1.5 s.
2. Responsiveness while streaming: a Pilot run in which a client streams a long Markdown
   answer (token by token) while keys are typed into the prompt; a 10 ms timer records the
   gaps between its ticks. Target: no gap over 100 ms. Two clients (--engine):
   - scripted: `PacedClient` yields the tokens itself; only the app's own work is measured.
   - real: the in-process client `paperchat chat` builds (`tui.client.InProcessClient`) with
     the llm engine, over the prepared collection, pointed at the test suite's fake
     OpenAI-compatible server on loopback (tests/utils/fake_openai.py), which streams the
     same kind of long Markdown answer with [1] [2] markers at the given rate. Retrieval,
     the query embedding, the openai SDK's HTTP stream, citation renumbering and support
     scoring all run in threads of this process alongside the typing. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                  rb"|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
PAINTED = b"Ask about the papers"
READY = re.compile(rb"\d+ papers")


def prepare_home(provider: str) -> Path:
    """A temp data dir with the bundled collection ingested (so launches measure loading)."""
    from ingest.pipeline import ensure_ingested
    from rag.library import Library
    from rag.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="paperchat-bench-tui-"))
    t0 = time.perf_counter()
    ensure_ingested(Library(Settings(home=home, embed={"provider": provider})))  # type: ignore[arg-type]
    print(f"prepared {home} ({provider}) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return home


def launch_once(home: Path, provider: str, timeout: float = 120.0) -> dict[str, float]:
    """Seconds from spawn to first paint and to ready, read from the terminal output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = {**os.environ, "PAPERCHAT_HOME": str(home), "PAPERCHAT_EMBED_PROVIDER": provider,
           "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "paperchat", "chat"], cwd=ROOT, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            start_new_session=True)
    os.close(slave)
    out, times = b"", {}
    try:
        while "ready_s" not in times:
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"not ready after {timeout} s; screen text: "
                                   f"{ANSI.sub(b'', out)[-400:]!r}")
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                out += os.read(master, 65536)
            except OSError:
                raise RuntimeError(f"chat exited: {ANSI.sub(b'', out)[-400:]!r}") from None
            text = ANSI.sub(b"", out)
            now = time.perf_counter() - t0
            if "first_paint_s" not in times and PAINTED in text:
                times["first_paint_s"] = now
            if "first_paint_s" in times and READY.search(text):
                times["ready_s"] = now
    finally:
        os.write(master, b"\x11")  # ctrl+q
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
    return times


class PacedClient:
    """Streams a long Markdown answer at `rate` tokens per second; no sessions are kept."""

    where = "in-process"

    def __init__(self, rate: float, tokens: int) -> None:
        self.rate, self.tokens = rate, tokens

    async def start(self, progress: Any = None) -> Any:
        from tui.client import ClientStatus

        return ClientStatus("llm", "paced-bench", 119, self.where)

    async def astream(self, question: str, *, session_id: str | None = None
                      ) -> AsyncGenerator[Any, None]:
        from rag.answer.events import CitationsEvent, DoneEvent, SourcesEvent, TokenEvent

        words = ["pretraining", "improves", "**segmentation**", "on", "few", "labels", "[1]."]
        yield SourcesEvent.model_validate({"sources": [
            {"n": 1, "paper_id": "p", "title": "Paper", "snippet": "s", "score": 1.0}]})
        sent = []
        for i in range(self.tokens):
            text = words[i % len(words)] + " "
            if i % 60 == 59:
                text += "\n\n- a list item with `code` and a [2] marker\n\n"
            sent.append(text)
            yield TokenEvent(text=text)
            await asyncio.sleep(1 / self.rate)
        yield CitationsEvent(citations=[])
        yield DoneEvent(answer="".join(sent))

    async def create_session(self, title: str | None = None) -> Any:
        from rag.sessions import SessionInfo

        return SessionInfo(id="bench", title=title, created_at="", updated_at="")

    async def list_sessions(self) -> list[Any]:
        return []

    async def get_session(self, session_id: str) -> Any:
        raise NotImplementedError

    async def rename_session(self, session_id: str, title: str) -> None: ...

    async def delete_session(self, session_id: str) -> None: ...

    async def get_paper(self, paper_id: str) -> Any:
        return None

    async def aclose(self) -> None: ...


def long_reply(tokens: int) -> str:
    """A Markdown answer of `tokens` streamed chunks (the fake server sends one per word),
    the same text as PacedClient's, with [1] and [2] citation markers."""
    from tests.utils.fake_openai import _split_words

    words = ["pretraining", "improves", "**segmentation**", "on", "few", "labels", "[1]."]
    parts = []
    for i in range(tokens):
        parts.append(words[i % len(words)] + " ")
        if i % 60 == 59:
            parts.append("\n\n- a list item with `code` and a [2] marker\n\n")
    return "".join(_split_words("".join(parts))[:tokens])


# In scope for the bundled collection (evals/suites/bundled_qa.jsonl q003): not refused.
REAL_QUESTION = "What WER on nov92 does unsupervised pretraining on raw audio achieve?"
_real_runs = 0  # real-engine runs so far in this process: the first one imports the SDK


async def stall_run(rate: float, tokens: int, keys_per_s: float = 20.0, *,
                    home: Path | None = None, provider: str = "minilm") -> dict[str, Any]:
    """Gaps between 10 ms timer ticks while an answer streams and keys are typed.

    Without `home` the scripted PacedClient streams; with it, the real in-process client
    over `home` (llm engine, fake endpoint on loopback pacing chunks at `rate`).
    Keys are posted as terminal key events at `keys_per_s` (Pilot.press would wait for the
    app to go idle after each key, which never happens mid-stream). Each gap is measured in
    wall time and in this process's CPU time: on a loaded machine a wall gap with little
    CPU in it is the OS scheduler, not the app; a CPU-busy gap is the event loop blocked.
    """
    from tui.app import PaperchatApp

    if home is None:
        result = await _stall_run(PaperchatApp(PacedClient(rate, tokens),
                                               data_dir=Path(tempfile.mkdtemp())),
                                  "stream a long answer", rate, tokens, keys_per_s)
        del result["record"]
        return result
    from rag.settings import Settings
    from tests.utils.fake_openai import fake_openai_server
    from tui.client import InProcessClient

    with fake_openai_server(default_reply=long_reply(tokens)) as fake:
        fake.chunk_delay = 1 / rate
        settings = Settings(home=home, embed={"provider": provider},  # type: ignore[arg-type]
                            llm={"base_url": fake.base_url, "api_key": "x",  # type: ignore[arg-type]
                                 "model": "fake-model"},
                            answer={"engine": "llm"})  # type: ignore[arg-type]
        app = PaperchatApp(InProcessClient(settings), data_dir=home)
        result = await _stall_run(app, REAL_QUESTION, rate, tokens, keys_per_s)
        record = result.pop("record")
        if record.engine != "llm" or record.degraded or record.refused \
                or fake.completed_streams != 1:
            raise RuntimeError(f"the real engine did not stream from the fake endpoint: "
                               f"engine={record.engine!r} degraded={record.degraded} "
                               f"refused={record.refused} error={record.error!r} "
                               f"streams={fake.completed_streams}")
        global _real_runs
        _real_runs += 1
        # The first run imports the openai SDK (etc.) after the app's gc.freeze(), as the
        # first question of `paperchat chat` does; later runs load after it was imported.
        result.update(engine="real", provider=provider, timings=record.timings,
                      citations=len(record.citations), first_in_process=_real_runs == 1)
        return result


async def _stall_run(app: Any, question: str, rate: float, tokens: int,
                     keys_per_s: float) -> dict[str, Any]:
    from textual import events

    wall: list[float] = []
    cpu: list[float] = []
    at: list[float] = []  # seconds from the question's submission to the end of each gap
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.chat
        await screen.loaded.wait()
        screen.prompt.set_text(question)
        start = time.perf_counter()
        await pilot.press("enter")
        while not screen.answering:
            await asyncio.sleep(0.01)
        last, last_cpu = time.perf_counter(), time.process_time()

        def tick() -> None:
            nonlocal last, last_cpu
            now, now_cpu = time.perf_counter(), time.process_time()
            wall.append((now - last) * 1000)
            cpu.append((now_cpu - last_cpu) * 1000)
            at.append(now - start)
            last, last_cpu = now, now_cpu

        timer = app.set_interval(0.01, tick)
        typed = "the next question, typed while the answer streams " * 3
        t0, cpu0 = time.perf_counter(), time.process_time()
        for ch in typed:
            app.post_message(events.Key("space" if ch == " " else ch, ch))
            await asyncio.sleep(1 / keys_per_s)
        while screen.answering:
            await asyncio.sleep(0.05)
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
        timer.stop()
        await pilot.pause()
        assert screen.prompt.text == typed, "keys typed during the stream were lost"
        chars = len(screen.conversation.answers[0].markdown.source)
        record = screen.conversation.answers[0].record
    ordered = sorted(wall)
    return {"engine": "scripted", "record": record, "tokens_per_s": rate, "tokens": tokens,
            "answer_chars": chars, "keys": len(typed),
            "ticks": len(wall), "seconds": round(seconds, 2),
            "cpu_share": round(cpu_seconds / seconds, 2),
            "max_gap_ms": round(ordered[-1], 1),
            "p99_gap_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
            "median_gap_ms": round(statistics.median(ordered), 1),
            "max_cpu_busy_gap_ms": round(max(cpu), 1),
            "gaps_over_100ms": sum(g > 100 for g in wall),
            "gaps_over_50ms": [{"at_s": round(t, 2), "wall_ms": round(w, 1),
                                "cpu_ms": round(c, 1)}
                               for t, w, c in zip(at, wall, cpu, strict=True) if w > 50],
            "load_average": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="Launches to time.")
    ap.add_argument("--provider", default="minilm", choices=["minilm", "fake"],
                    help="Embedder of the prepared collection (minilm = the real model).")
    ap.add_argument("--engine", default="both", choices=["scripted", "real", "both"],
                    help="Client streaming during the stall runs: scripted (PacedClient), "
                    "real (in-process llm engine on a fake local endpoint), or both.")
    ap.add_argument("--json", type=Path, help="Also write the figures here.")
    args = ap.parse_args()

    paces = ((50, 250), (200, 800))
    home = prepare_home(args.provider)
    try:
        launches = [launch_once(home, args.provider) for _ in range(args.runs)]
        streams = []
        if args.engine in ("scripted", "both"):
            streams += [asyncio.run(stall_run(rate, tokens)) for rate, tokens in paces]
        if args.engine in ("real", "both"):
            streams += [asyncio.run(stall_run(rate, tokens, home=home, provider=args.provider))
                        for rate, tokens in paces]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    paint = [r["first_paint_s"] for r in launches]
    ready = [r["ready_s"] for r in launches]
    result = {"provider": args.provider, "launches": launches,
              "first_paint_s_median": round(statistics.median(paint), 3),
              "first_paint_s_max": round(max(paint), 3),
              "ready_s_median": round(statistics.median(ready), 3), "streaming": streams}
    print("| measure | value | target |\n|---|---|---|")
    print(f"| launch to first paint (median of {args.runs}, max) | "
          f"{result['first_paint_s_median']:.2f} s, {result['first_paint_s_max']:.2f} s "
          f"| <= 1.5 s |")
    print(f"| launch to ready, {args.provider} (median) | {result['ready_s_median']:.2f} s "
          "| reported |")
    for s in streams:
        who = "" if s["engine"] == "scripted" else (
            "real llm engine on a local fake endpoint"
            + (" (first in process)" if s["first_in_process"] else "") + ", ")
        print(f"| tick gap max / p99 / CPU-busy max, {who}{s['tokens_per_s']:.0f} tok/s + "
              f"{s['keys']} keys (load {s['load_average']}) | {s['max_gap_ms']:.0f} / "
              f"{s['p99_gap_ms']:.0f} / {s['max_cpu_busy_gap_ms']:.0f} ms | <= 100 ms |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
