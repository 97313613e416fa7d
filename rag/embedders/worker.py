"""An embedder that runs in a separate worker process at a lower CPU priority.

The HTTP server embeds an ingest's documents here (`Library.ingest(embedder=...)`), so a long
ingest's model threads and Python work do not compete with the questions answered meanwhile:
the worker has its own interpreter (no shared GIL), its own copy of the model and its own
ONNX threads, and runs `nice`d, so when the cores are contended the server's own threads
are scheduled first.

The worker is `python -m rag.embedders.worker`, started on first use and kept for the next
ingest; it speaks length-prefixed pickles over its stdin/stdout, one request at a time. If
it dies, the call fails with EmbedderError and the next call starts a new one; it exits
when the server closes it or goes away (end of its stdin).
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from rag.errors import EmbedderError

if TYPE_CHECKING:
    import numpy as np

    from rag.settings import Settings

_LENGTH = struct.Struct("!Q")


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe")
    return pickle.loads(data)  # trusted: our own process is on the other end


class ProcessEmbedder:
    """The configured embedder, run in one worker process at niceness `nice` (0-19) with
    `threads` model threads (None: settings.embed.threads)."""

    def __init__(self, settings: Settings, *, nice: int = 10, threads: int | None = None
                 ) -> None:
        from rag.library import embedder_identity

        if threads is not None:
            embed = settings.embed.model_copy(update={"threads": threads})
            settings = settings.model_copy(update={"embed": embed})
        self.settings = settings
        self.nice = nice
        self._name, self._dimension = embedder_identity(settings)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one request at a time on the pipe

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen([sys.executable, "-m", "rag.embedders.worker"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert self._proc.stdin is not None
            _send(self._proc.stdin, (self.settings, self.nice))
        return self._proc

    def _call(self, op: str, arg: Any = None) -> Any:
        with self._lock:
            try:
                proc = self._process()
                assert proc.stdin is not None and proc.stdout is not None
                _send(proc.stdin, (op, arg))
                status, value = _recv(proc.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as e:
                self._stop()
                raise EmbedderError("the embedding worker process stopped unexpectedly") from e
        if status != "ok":
            raise EmbedderError(f"the embedding worker failed: {value}")
        return value

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._call("documents", list(texts))  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> np.ndarray:
        return self._call("query", text)  # type: ignore[no-any-return]

    def worker(self) -> dict[str, int]:
        """The worker's pid, niceness and texts embedded so far (starts it if needed)."""
        return self._call("describe")  # type: ignore[no-any-return]

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()  # the worker sees the end of its input and exits
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the worker (waits for a call in progress)."""
        with self._lock:
            self._stop()


def main() -> None:
    """The worker: settings and niceness first, then (op, arg) requests until stdin ends."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the frames
    try:
        settings, nice = _recv(stdin)
    except EOFError:
        return
    if nice:
        os.nice(nice)
    embedder = None
    embedded = 0
    while True:
        try:
            op, arg = _recv(stdin)
        except EOFError:
            return
        try:
            if embedder is None:
                from rag.embedders import make_embedder

                embedder = make_embedder(settings)
            if op == "documents":
                value: Any = embedder.embed_documents(arg)
                embedded += len(arg)
            elif op == "query":
                value = embedder.embed_query(arg)
            else:
                value = {"pid": os.getpid(), "nice": os.nice(0), "embedded": embedded,
                         "threads": settings.embed.threads}
            reply: tuple[str, Any] = ("ok", value)
        except Exception as e:  # reported to the caller; the worker stays up
            reply = ("error", f"{type(e).__name__}: {e}")
        try:
            _send(stdout, reply)
        except BrokenPipeError:  # the server went away
            return


if __name__ == "__main__":
    main()
