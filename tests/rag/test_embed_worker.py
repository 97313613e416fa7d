"""rag.embedders.worker.ProcessEmbedder: the same vectors, computed in a niced process."""

from __future__ import annotations

import os

import numpy as np

from rag.embedders import make_embedder
from rag.embedders.worker import ProcessEmbedder
from rag.settings import Settings


def test_vectors_match_and_come_from_a_lower_priority_process(settings: Settings) -> None:
    local = make_embedder(settings)
    worker = ProcessEmbedder(settings, nice=5)
    try:
        texts = ["graph neural network pretraining", "protein language models", ""]
        assert np.array_equal(worker.embed_documents(texts), local.embed_documents(texts))
        assert np.array_equal(worker.embed_query("speech"), local.embed_query("speech"))
        info = worker.worker()
        assert info["pid"] != os.getpid()
        assert info["nice"] == min(19, os.nice(0) + 5)
        assert info["embedded"] == 3
        assert (worker.name, worker.dimension) == (local.name, local.dimension)
    finally:
        worker.close()


def test_a_worker_dying_mid_call_is_an_embedder_error_and_the_next_call_restarts_it(
        settings: Settings) -> None:
    import fcntl
    import signal
    import struct
    import termios
    import threading
    import time

    import pytest

    from rag.errors import EmbedderError

    worker = ProcessEmbedder(settings)
    try:
        worker.close()  # closing a worker that never started is fine
        first = worker.worker()["pid"]
        pipe = worker._proc.stdin.fileno()  # type: ignore[union-attr]
        os.kill(first, signal.SIGSTOP)  # it cannot read the request that follows

        def kill_once_the_request_is_in_the_pipe() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                pending = struct.unpack("i", fcntl.ioctl(pipe, termios.FIONREAD, b"\0" * 4))
                if pending[0] > 0:
                    break
                time.sleep(0.01)
            os.kill(first, signal.SIGKILL)

        killer = threading.Thread(target=kill_once_the_request_is_in_the_pipe)
        killer.start()
        with pytest.raises(EmbedderError, match="stopped unexpectedly"):
            worker.embed_documents(["x"])
        killer.join()
        assert worker.worker()["pid"] != first
        assert worker.embed_documents(["x"]).shape == (1, settings.embed.dimensions)
    finally:
        worker.close()


def test_a_worker_found_dead_before_a_call_is_restarted(settings: Settings) -> None:
    import signal

    worker = ProcessEmbedder(settings)
    try:
        first = worker.worker()["pid"]
        os.kill(first, signal.SIGKILL)
        worker._proc.wait(timeout=30)  # type: ignore[union-attr]
        assert worker.embed_documents(["x"]).shape == (1, settings.embed.dimensions)
        assert worker.worker()["pid"] != first
    finally:
        worker.close()
