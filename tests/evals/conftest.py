"""Fixtures for the eval tests: a small BEIR dataset and QA suite over the same 12 papers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.library import Library
from rag.settings import Settings, load_settings

DATA = Path(__file__).resolve().parents[1] / "data"
BEIR_DIR = DATA / "evals_beir"
QA_SUITE = DATA / "evals_qa.jsonl"


@pytest.fixture
def qa_library() -> Library:
    """The fixture corpus ingested (fake embedder) into the default collection of the
    test's PAPERCHAT_HOME, as `paperchat eval qa` will open it."""
    from evals.beir import load_corpus

    settings: Settings = load_settings()
    assert settings.home == Path(os.environ["PAPERCHAT_HOME"])
    library = Library(settings)
    library.ingest(load_corpus(BEIR_DIR / "corpus.jsonl"))
    return library
