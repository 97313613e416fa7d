"""A deterministic, fast embedder for tests and store-side benchmarks.

Hashes word unigrams and bigrams into a fixed number of signed buckets, so texts that
share words get similar vectors: good enough for retrieval tests, no model needed.
"""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np

from rag.embedders.names import fake_name

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    def __init__(self, dimension: int = 384) -> None:
        self._dim = dimension
        self.calls = 0
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        return fake_name(self._dim)

    @property
    def dimension(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        feats = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        vec = np.zeros(self._dim, dtype=np.float32)
        for f in feats:
            h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
            vec[h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0
            norm = 1.0
        return vec / norm

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)
