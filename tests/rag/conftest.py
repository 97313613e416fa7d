"""Fixtures for the answer-layer tests: a fake OpenAI server and a tiny in-memory library."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from rag.answer.service import Assistant
from rag.answer.text import content_terms
from rag.embedders.fake import HashingEmbedder
from rag.models import Paper, SearchHit, SearchResponse
from rag.sessions import SessionStore
from rag.settings import Settings
from tests.utils.fake_openai import FakeOpenAI, fake_openai_server

TEST_KEY = "sk-test-SECRET-0123456789"

ANSWER_PAPERS = [
    Paper(id="mae", title="Masked Autoencoders Are Scalable Vision Learners",
          abstract=
          "We show that masked autoencoders are scalable self-supervised learners for "
          "computer vision. Our approach masks random patches of the input image and "
          "reconstructs the missing pixels. The encoder is a Vision Transformer that operates "
          "only on the visible patches. Masking a high proportion of the input image, such as "
          "75 percent, yields a nontrivial self-supervisory task. A ViT-Huge model reaches 87.8 "
          "percent top-1 accuracy on ImageNet-1K."),
    Paper(id="wav2vec", title="wav2vec: Unsupervised Pre-training for Speech Recognition",
          abstract=
          "We explore unsupervised pre-training for speech recognition by learning "
          "representations of raw audio. The model is trained on large amounts of unlabeled "
          "audio data. The representations are then used to improve acoustic model training. "
          "Our approach achieves a 2.43 percent word error rate on the nov92 test set. This "
          "outperforms the best character-based system while using far less labeled data."),
    Paper(id="medvit", title="Self-supervised Pretraining of Vision Transformers for Medical Image "
          "Segmentation",
          abstract=
          "Annotated medical images are scarce and expensive to obtain. We pretrain a vision "
          "transformer on unlabeled CT scans with a contrastive objective. Fine-tuning on organ "
          "segmentation improves the Dice score by 3 points over training from scratch. The "
          "pretrained encoder also transfers to MRI segmentation tasks."),
    Paper(id="molgraph", title="Graph Contrastive Pretraining for Molecular Property Prediction",
          abstract=
          "We pretrain graph neural networks on two million unlabeled molecules. Node and edge "
          "masking create augmented views for contrastive learning. The pretrained model "
          "improves ROC-AUC on eight molecular property benchmarks. Gains are largest when "
          "labeled data is scarce."),
    Paper(id="protein", title="Protein Language Models Learn Evolutionary Structure",
          abstract=
          "We train transformer language models on 250 million protein sequences. Attention "
          "maps of the model recover residue contacts without supervision. The learned "
          "representations predict mutational effects and secondary structure."),
    Paper(id="subset", title="Efficient Neural Network Training via Subset Pretraining",
          abstract=
          "In training neural networks, it is common practice to use partial gradients computed "
          "over batches. This proposal is based on the hypothesis that the loss minimum of the "
          "training set is well approximated by the minima of its subsets. The experiments on "
          "MNIST, CIFAR-10 and CIFAR-100 confirm that results equivalent to conventional "
          "training can be reached. The computing expense can be reduced to a tenth or less."),
]

OUT_OF_SCOPE = "What is a good recipe for banana bread with walnuts?"


class FakeLibrary:
    """The `Library` duck type over a few papers: hashing-embedder cosine + term overlap."""

    def __init__(self, settings: Settings, papers: list[Paper]) -> None:
        self.settings = settings
        self.embedder = HashingEmbedder(settings.embed.dimensions)
        self.papers = list(papers)
        self.queries: list[str] = []
        texts = [f"{p.title}\n\n{p.abstract}" for p in self.papers]
        self._vecs = self.embedder.embed_documents(texts) if texts else np.zeros((0, 1))
        self._terms = [set(content_terms(t)) for t in texts]

    def count(self) -> int:
        return len(self.papers)

    def is_empty(self) -> bool:
        return not self.papers

    def search(self, query: str, k: int | None = None, *, mode: str | None = None
               ) -> SearchResponse:
        self.queries.append(query)
        if not self.papers:
            return SearchResponse(query=query, results=[], timings={"total_ms": 0.0})
        k = k or self.settings.retrieval.k
        q = self.embedder.embed_query(query)
        q_terms = set(content_terms(query))
        cos = self._vecs @ q
        overlap = [2.5 * len(q_terms & t) for t in self._terms]  # ~ idf-weighted BM25
        score = [float(c) + 0.05 * o for c, o in zip(cos, overlap, strict=True)]
        order = sorted(range(len(self.papers)), key=lambda i: (-score[i], i))[:k]
        hits = [SearchHit(rank=r, paper_id=self.papers[i].id, title=self.papers[i].title,
                          score=score[i], snippet=self.papers[i].abstract[:160],
                          abstract=self.papers[i].abstract, dense_score=float(cos[i]),
                          bm25_score=float(overlap[i]) or None)
                for r, i in enumerate(order, 1)]
        return SearchResponse(query=query, results=hits, timings={"total_ms": 0.1},
                              top_cosine=float(cos.max()) if len(cos) else None)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server on a free loopback port."""
    with fake_openai_server() as fake:
        yield fake


@pytest.fixture
def answer_library(settings: Settings) -> FakeLibrary:
    return FakeLibrary(settings, ANSWER_PAPERS)


@pytest.fixture
def make_assistant(settings: Settings, answer_library: FakeLibrary, fake_openai: FakeOpenAI
                   ) -> Callable[..., Assistant]:
    """Build an Assistant over the tiny library; `llm=True` points it at the fake server.

    Keyword arguments are setting overrides in `section__field` form.
    """

    def build(*, llm: bool = True, library: Any = None, sessions: SessionStore | None = None,
              **overrides: Any) -> Assistant:
        values: dict[str, Any] = {"llm__timeout": 2.0, "llm__max_retries": 0}
        if llm:
            values.update(llm__base_url=fake_openai.base_url, llm__api_key=TEST_KEY)
        values.update(overrides)
        return Assistant(settings.with_overrides(**values), library or answer_library,
                         sessions=sessions)

    return build
