"""The fake OpenAI server with a random fault per chat request (seeded, thread-safe).

Faults, drawn for each POST /v1/chat/completions:
- `ok`: a normal reply;
- `429` / `500`: an error status (the client retries these);
- `stall`: no response for `stall_seconds` (longer than the client's timeout);
- `slow_stream`: headers and the role chunk, then `stall_seconds` before each content chunk;
- `cut`: the stream is cut after `cut_after` content chunks (text has already gone out).
`tally` counts the faults served. Replies cite [1] and [2] so answers carry citations.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.utils.fake_openai import FakeOpenAI

DEFAULT_WEIGHTS = {"ok": 4, "429": 1.5, "500": 1.5, "stall": 1, "slow_stream": 1, "cut": 1}
REPLY = ("Pretraining on unlabeled data helps [1]. The second paper reports gains when "
         "labels are scarce [2].")


class ChaosOpenAI(FakeOpenAI):
    """FakeOpenAI drawing one fault per chat request from `weights`."""

    def __init__(self, *, seed: int = 7, weights: dict[str, float] | None = None,
                 stall_seconds: float = 2.5, cut_after: int = 3, **kwargs: Any) -> None:
        self._local = threading.local()
        super().__init__(default_reply=REPLY, **kwargs)
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self.stall_seconds = stall_seconds
        self.cut_after = cut_after
        self.tally: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def start(self) -> ChaosOpenAI:
        super().start()
        assert self._server is not None
        # Clients hang up on stalled requests by design; http.server would print a
        # traceback for each reset connection.
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        return self

    def calm(self) -> None:
        """No more faults from now on."""
        self.weights = {"ok": 1}

    def _draw(self) -> str:
        with self._rng_lock:
            names, weights = zip(*self.weights.items(), strict=True)
            fault = self._rng.choices(names, weights)[0]
            self.tally[fault] += 1
        return fault

    # The base handler reads these per request; here they follow the request's fault.
    @property  # type: ignore[override]  # a per-thread value instead of a plain attribute
    def chunk_delay(self) -> float:
        return self.stall_seconds if getattr(self._local, "fault", "") == "slow_stream" \
            else 0.0

    @chunk_delay.setter
    def chunk_delay(self, value: float) -> None:
        pass

    @property  # type: ignore[override]
    def cut_stream_after(self) -> int | None:
        return self.cut_after if getattr(self._local, "fault", "") == "cut" else None

    @cut_stream_after.setter
    def cut_stream_after(self, value: int | None) -> None:
        pass

    def _next_failure(self) -> int | None:
        """Called once per POST, on the thread that serves it: draw its fault."""
        fault = self._local.fault = self._draw()
        if fault == "stall":
            time.sleep(self.stall_seconds)
        return int(fault) if fault.isdigit() else None


@contextmanager
def chaos_openai_server(**kwargs: Any) -> Iterator[ChaosOpenAI]:
    """A ChaosOpenAI on a free loopback port for the duration of the block."""
    fake = ChaosOpenAI(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
