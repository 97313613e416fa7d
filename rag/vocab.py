"""Names and bounds that settings, the Library, the CLI and the API share (defined once).

Imports nothing heavy: CLI options are built from it when `paperchat --help` starts."""

from __future__ import annotations

from typing import Literal, get_args

from rag.errors import InputError

Fusion = Literal["bm25", "dense", "rrf", "zscore"]
# A search's ranking: the configured fusion (then the relevance stage's re-ranking when
# relevance.rerank is on) ("default"), the configured fusion re-ranked by the relevance stage
# ("rerank"), or one fusion alone (first stage only).
Mode = Literal["default", "rerank", Fusion]
MODES: tuple[str, ...] = get_args(Mode)
K_MAX = 100  # the most papers one search returns


def check_k(k: object) -> int:
    """`k` if it is a valid number of papers for a search, else InputError."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise InputError(f"k must be an integer between 1 and {K_MAX}, got {k!r}")
    return k


def check_mode(mode: str | None) -> str:
    """The search mode (None: "default"), else InputError naming the valid ones."""
    mode = mode or "default"
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    return mode
