"""Sentence vectors with a small cache: abstracts' sentences recur across questions.

Questions go through `lookup` too: every embedder here embeds queries and documents the
same way (no query prefix), and one batch is cheaper than two calls.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from rag.embedders import Embedder


class SentenceVectors:
    """Embeds texts with the collection's embedder, remembering recent ones (LRU)."""

    def __init__(self, embedder: Embedder, max_items: int = 8192) -> None:
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._max = max_items
        self._lock = threading.Lock()

    def lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Vector per distinct text (L2-normalised, so dot product = cosine)."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                if t in self._cache:
                    self._cache.move_to_end(t)
                    found[t] = self._cache[t]
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            arr = self.embedder.embed_documents(missing)
            with self._lock:
                for t, v in zip(missing, arr, strict=True):
                    found[t] = v
                    self._cache[t] = v
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        return found
