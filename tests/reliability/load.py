"""A small bounded load generator for fault tests: worker threads sending a mix of requests.

Every request's outcome is recorded (status, how the body ended, error code, seconds) and
classified against the contract the server promises under faults:
- `answer`: 200 with a complete answer (a stream ends with `done` / `[DONE]`);
- `degraded`: such an answer with `degraded: true` (the LLM failed, extractive instead);
- `unavailable`: a 503 with the one error shape, or a stream that ends with an `error`
  event, with one of the documented codes;
- `bad`: anything else (a 500, a hang cut by the client timeout, a broken stream).
Runs stop by themselves after `max_requests` or `max_seconds`, whichever comes first.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

UNAVAILABLE_CODES = frozenset({"llm_unavailable", "store_unavailable", "collection_error",
                               "embedder_error"})
KINDS = ("ask", "stream", "chat", "chat_stream", "followup", "search")


@dataclass
class Outcome:
    kind: str
    started: float  # time.monotonic() when sent
    seconds: float
    status: int  # 0: no HTTP response (transport error or client timeout)
    ended: str  # json | done | error | cut | transport
    code: str | None = None  # error code, if any
    degraded: bool = False
    refused: bool = False  # nothing relevant: answered without calling the LLM
    engine: str | None = None
    detail: str = ""

    @property
    def category(self) -> str:
        if self.status == 200 and self.ended in ("json", "done"):
            return "degraded" if self.degraded else "answer"
        if self.status == 200 and self.kind == "search" and self.ended == "json":
            return "answer"
        if self.code in UNAVAILABLE_CODES and (
                (self.status == 503 and self.ended == "json")
                or (self.status == 200 and self.ended == "error")):
            return "unavailable"
        return "bad"


def _questions() -> list[str]:
    from tests.conftest import make_papers

    topics = sorted({p.title.split(" on ", 1)[1] for p in make_papers(6)})
    return [f"What is known about {t}?" for t in topics]


def _sse_datas(response: httpx.Response) -> Iterable[str]:
    for line in response.iter_lines():
        if line.startswith("data:"):
            yield line[5:].strip()


class LoadRun:
    """`workers` threads cycling through `kinds` against `base_url` (which ends in /v1)."""

    def __init__(self, base_url: str, *, workers: int = 4, kinds: Iterable[str] = KINDS,
                 max_requests: int = 100, max_seconds: float = 30.0, timeout: float = 20.0,
                 headers: dict[str, str] | None = None,
                 questions: list[str] | None = None) -> None:
        self.base_url = base_url
        self.workers = workers
        self.kinds = list(kinds)
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.headers = headers or {}
        self.questions = questions or _questions()
        self.outcomes: list[Outcome] = []
        self._sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deadline = 0.0

    # -- control ------------------------------------------------------------------
    def start(self) -> LoadRun:
        self._deadline = time.monotonic() + self.max_seconds
        self._threads = [threading.Thread(target=self._worker, args=(n,), daemon=True)
                         for n in range(self.workers)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 10)

    def join(self) -> None:
        """Wait until the run ends by itself (count or time)."""
        for t in self._threads:
            t.join(timeout=self.max_seconds + self.timeout + 10)

    def __enter__(self) -> LoadRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait_for(self, predicate: Callable[[list[Outcome]], bool], timeout: float) -> bool:
        """Poll until `predicate(outcomes so far)` holds or `timeout` seconds pass."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                snapshot = list(self.outcomes)
            if predicate(snapshot):
                return True
            time.sleep(0.05)
        return False

    def since(self, t: float) -> list[Outcome]:
        """Outcomes of requests sent at or after monotonic time `t`."""
        with self._lock:
            return [o for o in self.outcomes if o.started >= t]

    def tally(self) -> Counter[str]:
        with self._lock:
            return Counter(o.category for o in self.outcomes)

    def bad(self) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.category == "bad"]

    # -- the work -----------------------------------------------------------------
    def _take(self) -> int | None:
        """The next request's sequence number, or None when the run is over."""
        with self._lock:
            if self._stop.is_set() or self._sent >= self.max_requests \
                    or time.monotonic() >= self._deadline:
                return None
            self._sent += 1
            return self._sent - 1

    def _worker(self, n: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout,
                          headers=self.headers) as http:
            while (seq := self._take()) is not None:
                # Every kind of request meets every question.
                kind = self.kinds[seq % len(self.kinds)]
                question = self.questions[(seq // len(self.kinds)) % len(self.questions)]
                started = time.monotonic()
                try:
                    outcome = getattr(self, f"_{kind}")(http, question, started)
                except httpx.HTTPError as e:
                    outcome = Outcome(kind, started, 0.0, 0, "transport",
                                      detail=f"{type(e).__name__}: {e}")
                outcome.seconds = time.monotonic() - started
                with self._lock:
                    self.outcomes.append(outcome)

    @staticmethod
    def _json_outcome(kind: str, started: float, r: httpx.Response) -> Outcome:
        try:
            body = r.json()
        except ValueError:
            return Outcome(kind, started, 0.0, r.status_code, "cut", detail=r.text[:200])
        if r.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            shaped = isinstance(error, dict) and set(body) == {"error"} and bool(
                error.get("message"))
            return Outcome(kind, started, 0.0, r.status_code, "json" if shaped else "cut",
                           code=error.get("code") if isinstance(error, dict) else None,
                           detail=r.text[:200])
        meta = body.get("paperchat", body) if isinstance(body, dict) else {}
        return Outcome(kind, started, 0.0, 200, "json", degraded=bool(meta.get("degraded")),
                       refused=bool(meta.get("refused")), engine=meta.get("engine"))

    def _ask(self, http: httpx.Client, question: str, started: float) -> Outcome:
        return self._json_outcome("ask", started, http.post("/ask", json={"question": question}))

    def _search(self, http: httpx.Client, question: str, started: float) -> Outcome:
        return self._json_outcome("search", started,
                                  http.get("/search", params={"q": question, "k": 5}))

    def _chat(self, http: httpx.Client, question: str, started: float) -> Outcome:
        body = {"model": "paperchat", "messages": [{"role": "user", "content": question}]}
        return self._json_outcome("chat", started, http.post("/chat/completions", json=body))

    def _followup(self, http: httpx.Client, question: str, started: float) -> Outcome:
        """A second turn: with an LLM it costs a condense call before the answer."""
        body = {"model": "paperchat", "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": "Two papers study this [1, 2]."},
            {"role": "user", "content": "What about the second one?"}]}
        return self._json_outcome("followup", started,
                                  http.post("/chat/completions", json=body))

    def _stream(self, http: httpx.Client, question: str, started: float) -> Outcome:
        with http.stream("POST", "/ask/stream", json={"question": question}) as r:
            if r.status_code != 200:
                r.read()
                return self._json_outcome("stream", started, r)
            last: dict[str, Any] = {}
            for data in _sse_datas(r):
                last = json.loads(data)
        kind = last.get("type")
        if kind == "done":
            return Outcome("stream", started, 0.0, 200, "done",
                           degraded=bool(last.get("degraded")),
                           refused=bool(last.get("refused")), engine=last.get("engine"))
        if kind == "error":
            return Outcome("stream", started, 0.0, 200, "error", code=last.get("code"),
                           detail=str(last.get("message"))[:200])
        return Outcome("stream", started, 0.0, 200, "cut", detail=json.dumps(last)[:200])

    def _chat_stream(self, http: httpx.Client, question: str, started: float) -> Outcome:
        body = {"model": "paperchat", "stream": True,
                "messages": [{"role": "user", "content": question}]}
        with http.stream("POST", "/chat/completions", json=body) as r:
            if r.status_code != 200:
                r.read()
                return self._json_outcome("chat_stream", started, r)
            datas = list(_sse_datas(r))
        chunks = [json.loads(d) for d in datas if d != "[DONE]"]
        errors = [c["error"] for c in chunks if "error" in c]
        if errors:
            return Outcome("chat_stream", started, 0.0, 200, "error",
                           code=errors[-1].get("code"), detail=str(errors[-1])[:200])
        if datas and datas[-1] == "[DONE]":
            meta = next((c["paperchat"] for c in chunks if "paperchat" in c), {})
            return Outcome("chat_stream", started, 0.0, 200, "done",
                           degraded=bool(meta.get("degraded")),
                           refused=bool(meta.get("refused")), engine=meta.get("engine"))
        return Outcome("chat_stream", started, 0.0, 200, "cut", detail=str(datas[-1:])[:200])

