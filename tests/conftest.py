"""Shared fixtures: isolated data dir, fake embedder by default, small collections."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings

from rag.library import Library
from rag.models import Paper
from rag.settings import Settings

if TYPE_CHECKING:
    from tests.utils.postgres import PostgresServer

DATA = Path(__file__).parent / "data"

# Property-based tests (hypothesis, schemathesis) are derandomised in CI: the same examples on
# every run, so a failure is reproducible and a pass is not luck. `bench/fuzz_nightly.sh`
# runs them with HYPOTHESIS_PROFILE=nightly: random examples, many more of them.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.register_profile("nightly", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own PAPERCHAT_HOME and no inherited LLM/Chroma configuration."""
    for var in list(os.environ):
        if var.startswith(("PAPERCHAT_", "OPENAI_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PAPERCHAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAPERCHAT_EMBED_PROVIDER", "fake")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    # The fake LLM's scripted replies are placeholders ("The sources discuss this [1]."),
    # not text the fake embedder can find support for, so the grounding guard (on by
    # default) would withdraw them; tests/rag/test_answer_guard.py and the front-end guard
    # tests turn it back on.
    monkeypatch.setenv("PAPERCHAT_ANSWER_GUARD", "false")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with the fake embedder and a private data dir."""
    return Settings(home=tmp_path / "home", embed={"provider": "fake"})  # type: ignore[arg-type]


def make_papers(n: int, prefix: str = "p") -> list[Paper]:
    """n small distinct papers with predictable words."""
    topics = ["graph neural network pretraining", "vision transformer segmentation",
              "protein language model", "speech recognition adapters",
              "reinforcement learning robots", "time series forecasting"]
    return [Paper(id=f"{prefix}{i}", title=f"Paper {i} on {topics[i % len(topics)]}",
                  abstract=f"We study {topics[i % len(topics)]} in setting {i}. "
                  f"Our method number {i} improves accuracy by {i}.{i} points.")
            for i in range(n)]


@pytest.fixture
def small_papers() -> list[Paper]:
    return make_papers(12)


@pytest.fixture
def library(settings: Settings, small_papers: list[Paper]) -> Library:
    """A fake-embedder library with 12 small papers ingested."""
    lib = Library(settings)
    lib.ingest(small_papers)
    return lib


def bundled_papers() -> list[Paper]:
    """The bundled 119-paper collection, parsed."""
    from ingest.bundled import bundled_collection_path
    from ingest.parsers import parse_file

    return parse_file(bundled_collection_path()).papers


@pytest.fixture(scope="session")
def bundled_fake_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the bundled collection ingested with the fake embedder (built once)."""
    home = tmp_path_factory.mktemp("bundled-fake")
    Library(Settings(home=home, embed={"provider": "fake"})).ingest(  # type: ignore[arg-type]
        bundled_papers())
    return home


@pytest.fixture(scope="session")
def minilm_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir with the bundled collection ingested with the real MiniLM model (once)."""
    home = tmp_path_factory.mktemp("bundled-minilm")
    Library(Settings(home=home, embed={"provider": "minilm"})).ingest(  # type: ignore[arg-type]
        bundled_papers())
    yield home


@pytest.fixture
def minilm_library(minilm_home: Path, monkeypatch: pytest.MonkeyPatch) -> Library:
    """The bundled collection with the real model (shared, read-only: do not ingest into it)."""
    monkeypatch.setenv("PAPERCHAT_HOME", str(minilm_home))
    monkeypatch.setenv("PAPERCHAT_EMBED_PROVIDER", "minilm")
    return Library(Settings(home=minilm_home, embed={"provider": "minilm"}))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole test session (initdb in a temporary
    directory, a free loopback port); skipped only where the server binaries are missing."""
    from tests.utils.postgres import PostgresServer, find_binaries

    if find_binaries() is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) are not on PATH or under "
                    "/usr/lib/postgresql/*/bin; install postgresql to run these tests")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the shared server (one per test)."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against the embedded default (a SQLite file) and a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
