"""Which questions ask for the papers on a topic (rag.relevance.intent): those are cited at
the lower list bar, so a fact question must not be taken for one."""

from __future__ import annotations

import pytest

from rag.relevance.intent import asks_for_papers


@pytest.mark.parametrize("question", [
    "Which papers pretrain graph neural networks?",
    "Which works pretrain vision models by hiding parts of an image?",
    "Find work on federated pretraining of language models across edge devices.",
    "What pretrained models exist for molecules or materials?",
    "Which foundation models are pretrained for global weather forecasting?",
    "list approaches to continual pretraining",
    "Show me studies on protein language models",
    "speech and audio papers",
    "vision-language pretraining",
])
def test_questions_asking_for_papers_on_a_topic_are_lists(question: str) -> None:
    assert asks_for_papers(question)


@pytest.mark.parametrize("question", [
    "What Dice score did the brachytherapy model reach?",
    "Which method masks 75 percent of image patches and reaches 87.8 percent on ImageNet?",
    "Which two practical techniques are proposed to improve low-rank LLM pretraining?",
    "On which 3 benchmarks was the frame-compression framework evaluated?",
    "How does wav2vec use unlabeled audio?",
    "Does pretraining on synthetic images help?",
    "graph pretraining?",
    "DUSP4 decreases apoptosis.",
    "Masked autoencoders reconstruct missing pixels from visible patches.",
    "",
])
def test_fact_questions_and_claims_are_not_lists(question: str) -> None:
    assert not asks_for_papers(question)
