"""How many papers a search returns: settings' retrieval.k everywhere, unless a flag or
parameter says otherwise, within one bound (rag.vocab.K_MAX)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.vocab import K_MAX
from tests.conftest import make_papers
from tests.paperchat.test_cli import cli

# Six CLI processes, one an ingest: ~19 s on the shared 2 cores (fast tier: not slow).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("k") / "home"
    papers = tmp_path_factory.mktemp("k-data") / "papers.jsonl"
    papers.write_text("".join(json.dumps({"id": p.id, "title": p.title,
                                          "abstract": p.abstract}) + "\n"
                              for p in make_papers(30)))
    cli("ingest", str(papers), "--json", home=home)
    return home


def _count(home: Path, *args: str, env: dict[str, str] | None = None) -> int:
    out = cli("search", "paper on protein language model", "--json", *args, home=home,
              extra=env)
    return len(json.loads(out.stdout)["results"])


def test_the_cli_default_is_the_configured_k(home: Path) -> None:
    assert _count(home) == 10  # the settings default
    assert _count(home, env={"PAPERCHAT_RETRIEVAL_K": "3"}) == 3
    assert _count(home, "-k", "5", env={"PAPERCHAT_RETRIEVAL_K": "3"}) == 5  # flag wins


def test_k_beyond_the_bound_is_refused_everywhere(home: Path) -> None:
    over = str(K_MAX + 1)
    assert cli("search", "protein", "-k", over, home=home, check=False).returncode == 2
    bad_env = cli("search", "protein", home=home, check=False,
                  extra={"PAPERCHAT_RETRIEVAL_K": over})
    assert bad_env.returncode != 0 and "retrieval.k" in bad_env.stderr
