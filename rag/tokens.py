"""tiktoken counting that works offline.

tiktoken downloads its BPE files on first use, which fails on a machine without internet.
llama-index-core ships cl100k_base in `llama_index/core/_static/tiktoken_cache`; pointing
TIKTOKEN_CACHE_DIR there (unless the user set it) makes tiktoken load it from disk. The
package is located with find_spec so that counting tokens does not import llama-index.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

ENCODING = "cl100k_base"


def ensure_tiktoken_cache() -> None:
    """Point tiktoken at the BPE files bundled with llama-index-core."""
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return
    cache = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    if cache.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)


@functools.cache
def encoding() -> Any:
    ensure_tiktoken_cache()
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in text."""
    return len(encoding().encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """The longest prefix of text with at most max_tokens tokens."""
    ids = encoding().encode(text, disallowed_special=())
    return text if len(ids) <= max_tokens else encoding().decode(ids[:max_tokens])
