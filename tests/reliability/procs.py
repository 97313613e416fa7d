"""Processes a fault test kills: `chroma run` and `paperchat serve`, on loopback ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import IO, Any

from tests.utils.chroma_server import ChromaProcess, free_port, stop_process, wait_until_ready

__all__ = ["ChromaProcess", "ServeProcess", "inspect_collection", "serve_env"]

ROOT = Path(__file__).resolve().parents[2]


def serve_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a `paperchat serve` child: the fake embedder, `home`, no
    inherited paperchat/OpenAI settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERCHAT_", "OPENAI_"))}
    env.update(PAPERCHAT_HOME=str(home), PAPERCHAT_EMBED_PROVIDER="fake", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


class ServeProcess:
    """`python -m paperchat serve` on a free loopback port; output goes to `log`."""

    def __init__(self, env: dict[str, str], log: Path, *, log_level: str = "info") -> None:
        self.env = env
        self.log = log
        self.log_level = log_level
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0, *, ready: bool = True) -> ServeProcess:
        self._out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paperchat", "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--log-level", self.log_level],
            env=self.env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT)
        wait_until_ready(f"{self.url}/readyz", self.proc, timeout,
                         ok=(200,) if ready else (200, 503))
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=20)
        self._close()

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# Reads a collection from a separate process (the store only: opening the keyword index
# would re-sync and save it, doing a restarted server's recovery work for it).
_INSPECT = textwrap.dedent("""
    import json, sys
    from rag.library import Library
    from rag.settings import Settings

    lib = Library(Settings(home=sys.argv[1], embed={"provider": "fake"}))
    store = lib.store
    states = store.paper_states()
    out = {"write_in_progress": store.write_in_progress, "chunks": store.count_chunks(),
           "papers": sorted(states), "incomplete": sorted(
               p for p, s in states.items() if not s.complete or not s.hash),
           "abstracts": {p.id: p.abstract for p in store.all_papers()}}
    if sys.argv[2] == "keyword":
        out["keyword"] = len(lib.keyword)
    print(json.dumps(out))
""")


def inspect_collection(home: Path, keyword: bool = False) -> dict[str, Any]:
    """What the embedded store under `home` holds: ingest marker, chunk count, paper ids,
    papers whose chunks are incomplete, abstracts; with `keyword`, the BM25 chunk count."""
    done = subprocess.run([sys.executable, "-c", _INSPECT, str(home),
                           "keyword" if keyword else "store"], cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=300, env=serve_env(home))
    return json.loads(done.stdout)  # type: ignore[no-any-return]
