"""tiktoken counting works offline from the BPE file bundled with llama-index-core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rag.tokens import count_tokens, truncate_to_tokens


def test_count_and_truncate() -> None:
    text = "Masked autoencoders are scalable vision learners."
    n = count_tokens(text)
    assert 5 < n < 20
    assert count_tokens("") == 0
    assert truncate_to_tokens(text, n) == text
    short = truncate_to_tokens(text, 3)
    assert text.startswith(short) and count_tokens(short) == 3
    assert count_tokens("<|endoftext|>") > 1  # special tokens are counted as text, not refused


def test_offline_cache_dir_is_found_without_importing_llama_index(tmp_path: Path) -> None:
    code = ("import os, sys; from rag.tokens import count_tokens; n = count_tokens('hello "
            "world'); print(n, os.environ['TIKTOKEN_CACHE_DIR'], "
            "'llama_index.core' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    # An unroutable proxy makes any download attempt fail fast instead of succeeding.
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, cwd=Path(__file__).parents[2], check=True)
    n, cache, imported = out.stdout.split()
    assert n == "2"
    assert cache.endswith(os.path.join("llama_index", "core", "_static", "tiktoken_cache"))
    assert imported == "False"
