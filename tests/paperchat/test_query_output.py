"""What `paperchat ask` prints under an answer: its sources, then the related papers the
lead line counts ("1 paper in the collection answers this; 2 more are related:")."""

from __future__ import annotations

import pytest

from paperchat.query import _print_references
from rag.answer.models import Answer, Citation
from rag.models import SearchHit


def _hit(rank: int, paper_id: str, title: str, relevance: float | None) -> SearchHit:
    return SearchHit(rank=rank, paper_id=paper_id, title=title, score=1.0, snippet="...",
                     relevance=relevance)


def test_related_papers_are_listed_after_the_cited_ones(
        capsys: pytest.CaptureFixture[str]) -> None:
    answer = Answer(
        question="q", answer="1 paper in the collection answers this; 2 more are related:",
        citations=[Citation(n=1, paper_id="a", title="Cited paper", snippet="x", support=0.7)],
        sources=[_hit(1, "a", "Cited paper", 0.91), _hit(2, "b", "Second paper", 0.31),
                 _hit(3, "c", "Third paper", None)])
    _print_references(answer)
    out = capsys.readouterr().out
    sources, related = out.split("Related, not cited:")
    assert "[1] Cited paper  [a]" in sources and "Second paper" not in sources
    assert related.splitlines()[1:] == ["  - Second paper  [b]  (relevance 0.31)",
                                        "  - Third paper  [c]"]


def test_no_related_section_when_every_source_is_cited(
        capsys: pytest.CaptureFixture[str]) -> None:
    answer = Answer(question="q", answer="x [1].",
                    citations=[Citation(n=1, paper_id="a", title="A", snippet="x")],
                    sources=[_hit(1, "a", "A", None)])
    _print_references(answer)
    assert "Related" not in capsys.readouterr().out
