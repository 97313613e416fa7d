"""Prompt history and the BibTeX writer."""

from __future__ import annotations

from rag.models import Paper
from tui.export import bibtex_entry, bibtex_key
from tui.history import PromptHistory


def test_history_browses_back_and_returns_to_the_draft() -> None:
    h = PromptHistory(["one", "two", "two"])
    assert h.entries == ["one", "two"]
    assert h.next() is None  # not browsing
    assert h.previous("dra") == "two"
    assert h.previous("two") == "one"
    assert h.previous("one") is None
    assert h.next() == "two"
    assert h.next() == "dra"
    h.add("three")
    assert h.previous("") == "three"


def test_history_keeps_each_question_once_as_its_newest() -> None:
    h = PromptHistory(["a", "b", "a", "c", "b"])
    assert h.entries == ["a", "c", "b"]
    h.add("  a ")
    assert h.entries == ["c", "b", "a"]


def test_bibtex_escapes_latex_specials_and_keeps_braces_balanced() -> None:
    paper = Paper(id="2401.01234", title="Q&A {over} 100% of C_4", abstract="abs",
                  authors=("José Núñez",), year=2024, doi="10.1/x")
    key = bibtex_key(paper.id, paper.title, paper)
    entry = bibtex_entry(key, paper.id, paper.title, paper)
    assert key == "nunez2024over"
    assert r"Q\&A (over) 100\% of C\_4" in entry
    assert entry.count("{") == entry.count("}")
    assert "eprint = {2401.01234}" in entry and "archiveprefix = {arXiv}" in entry
    assert "doi = {10.1/x}" in entry
