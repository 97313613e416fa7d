"""`paperchat serve` replicas in subprocesses, as an operator runs them behind a load
balancer: each with its own data directory (no shared disk), all on one Chroma server and
one database. Used by tests/server/test_replicas.py and bench/replicas.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.utils.chroma_server import free_port, stop_process, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]


class Replica:
    """One `python -m paperchat serve` on a free loopback port."""

    def __init__(self, home: Path, env: dict[str, str], *, name: str = "replica",
                 log_level: str = "warning") -> None:
        self.home = home
        self.env = env
        self.name = name
        self.port = free_port()
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home.parent / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> Replica:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERCHAT_HOME": str(self.home),
               **self.env}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paperchat", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--log-level", self.log_level],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(f"{self.url}/readyz", self.proc, timeout, ok=(200, 503))
        except RuntimeError as e:
            raise RuntimeError(f"{e}; log: {self.log.read_text(errors='replace')[-3000:]}"
                               ) from None
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, whatever it held is left as it was."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def __enter__(self) -> Replica:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
