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


def test_a_dead_worker_is_an_embedder_error_and_the_next_call_restarts_it(
        settings: Settings) -> None:
    import signal

    import pytest

    from rag.errors import EmbedderError

    worker = ProcessEmbedder(settings)
    try:
        worker.close()  # closing a worker that never started is fine
        first = worker.worker()["pid"]
        os.kill(first, signal.SIGKILL)
        with pytest.raises(EmbedderError, match="stopped unexpectedly"):
            worker.embed_documents(["x"])
        assert worker.worker()["pid"] != first
        assert worker.embed_documents(["x"]).shape == (1, settings.embed.dimensions)
    finally:
        worker.close()
