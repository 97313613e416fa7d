"""QA suite parsing: clear file:line errors, gold matched by id or exact title."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.beir import load_corpus
from evals.suite import bundled_suite_path, load_suite, resolve_gold
from rag.errors import InputError, ParseError
from tests.evals.conftest import BEIR_DIR, QA_SUITE

GOOD = {"id": "a", "question": "What?", "gold": ["p1"], "facts": ["x"], "kind": "single"}


def _write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "suite.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


@pytest.mark.parametrize(("bad", "message"), [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ({**GOOD, "id": "b", "kind": "easy"}, "'kind' must be one of single, multi, none"),
    ({"id": "b", "question": "Q?", "kind": "single"}, "missing 'gold'"),
    ({**GOOD, "id": "b", "question": "  "}, "'question' must be a non-empty string"),
    ({**GOOD, "id": "b", "gold": "p1"}, "'gold' must be a list of non-empty strings"),
    ({**GOOD, "id": "b", "facts": [1]}, "'facts' must be a list of non-empty strings"),
    ({**GOOD, "id": "b", "kind": "none"}, "a 'none' question has no gold papers"),
    ({**GOOD, "id": "b", "gold": []}, "a 'single' question needs at least one gold paper"),
    ({**GOOD, "id": "b", "gold": ["p1", "p2"]}, "exactly one gold paper, not 2"),
    ({**GOOD, "id": "a"}, "duplicate id 'a' (first on line 1)"),
])
def test_malformed_line_names_file_and_line(tmp_path: Path, bad: object, message: str) -> None:
    path = _write(tmp_path, GOOD, "", bad)  # the blank line still counts: the bad one is 3
    with pytest.raises(ParseError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert message in str(info.value)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.jsonl: not found"):
        load_suite(tmp_path / "nope.jsonl")
    with pytest.raises(ParseError, match="no questions"):
        load_suite(_write(tmp_path, ""))


def test_gold_matches_ids_and_exact_titles_case_insensitively() -> None:
    suite = resolve_gold(load_suite(QA_SUITE), load_corpus(BEIR_DIR / "corpus.jsonl"), "c")
    gold = {q.id: q.gold for q in suite.questions}
    assert gold["s1"] == ("mae",)
    assert gold["s2"] == ("w2v",)  # by title, other case
    assert gold["s3"] == ("code",)  # by id, other case
    assert gold["s4"] == ("med", "mae")
    assert gold["s5"] == ()


def test_unknown_gold_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, {**GOOD, "gold": ["mae"]},
                  {**GOOD, "id": "b", "gold": ["Masked Autoencoders"]})  # a partial title
    with pytest.raises(ParseError) as info:
        resolve_gold(load_suite(path), load_corpus(BEIR_DIR / "corpus.jsonl"), "papers")
    assert str(info.value).startswith(f"{path}:2: gold 'Masked Autoencoders' matches no paper")
    assert "collection 'papers' (12 papers)" in str(info.value)


def test_bundled_suite_is_package_data_and_valid() -> None:
    path = bundled_suite_path()
    assert path.name == "bundled_qa.jsonl" and path.is_file()
    suite = load_suite(path)
    kinds = {q.kind for q in suite.questions}
    assert len(suite.questions) >= 60 and kinds == {"single", "multi", "none"}
