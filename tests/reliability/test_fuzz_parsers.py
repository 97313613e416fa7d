"""Parser fuzzing where tests/ingest/test_parsers_fuzz.py does not reach (issue 7, hostile
input). Measured with `python -m trace` over that file: random text never formed a LaTeX
accent or symbol, a boilerplate or over-long line of the trending dump, a nested-too-deep
JSON document, a BibTeX entry with a field given twice or without an abstract, a valid
arXiv record, a file on disk (undecodable bytes, extension-based detection). Same contract:
a clean result or a ParseError naming the source, nothing else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.latex import latex_to_text
from ingest.parsers import parse_file
from ingest.parsers.trending import BOILERPLATE, MAX_TITLE_CHARS
from rag.errors import ParseError
from tests.ingest.test_parsers_fuzz import check

FAST = settings(max_examples=int(os.environ.get("FUZZ_N", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

LATEX = st.lists(st.sampled_from([
    "\\'", '\\"', "\\`", "\\^", "\\~", "\\=", "\\.", "\\c ", "\\v", "\\u", "\\H", "\\k", "\\r",
    "{", "}", "\\i", "\\j", "e", "o", "C", " ", "\\alpha", "\\Omega", "\\deg", "\\pm", "\\foo",
    "\\texttt{", "\\href{", "$", "\\%", "\\_", "\\{", "~", "``", "''", "http://a.b", "\\",
    "--", "5", ".",
]) | st.text(max_size=3), max_size=40).map("".join)


@FAST
@given(text=LATEX, strip=st.booleans())
def test_latex_leftovers_never_raise(text: str, strip: bool) -> None:
    out = latex_to_text(text, strip_braces=strip)
    assert isinstance(out, str)
    assert latex_to_text(text.replace("\\", "")) == latex_to_text(text.replace("\\", ""))


TRENDING_LINE = (st.sampled_from(sorted(BOILERPLATE)).map(str.title)
                 | st.sampled_from(["Subscribe", "SubscribeEfficient transformers", ""])
                 | st.text(min_size=1, max_size=30)
                 | st.integers(MAX_TITLE_CHARS - 5, MAX_TITLE_CHARS + 50).map(lambda n: "w " * n)
                 | LATEX)


@FAST
@given(st.lists(TRENDING_LINE, max_size=12).map("\n".join))
def test_trending_dump_lines(text: str) -> None:
    check(text, "trending")
    check(text, None)


PAPER = {"title": "A title", "abstract": "An abstract."}


@FAST
@given(depth=st.integers(1, 5000), opener=st.sampled_from(["[", '{"papers": [', '{"a": ']),
       extra=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5),
                             max_size=3), papers_first=st.booleans(), pad=st.sampled_from(
                                 ["", " ", "\n", "\t "]))
def test_deep_and_wrapped_json(depth: int, opener: str, extra: dict[str, object],
                               papers_first: bool, pad: str) -> None:
    check(opener * depth, "json")
    check("[" * depth + "]" * depth, None)
    wrapped = {"papers": [PAPER], **extra} if papers_first else {**extra, "papers": [PAPER]}
    text = json.dumps(wrapped, indent=1 if pad else None).replace(",", "," + pad)
    check(text, "json")
    check(text, None)


BIB_FIELD = st.sampled_from(["title", "abstract", "author", "year", "keywords", "doi", "url"])


@FAST
@given(st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9]{0,4}", fullmatch=True),
                          st.lists(st.tuples(BIB_FIELD, LATEX | st.text(max_size=20)),
                                   max_size=6)), max_size=5))
def test_bibtex_fields_twice_missing_or_latex(entries: list[tuple[str, list[tuple[str, str]]]]
                                              ) -> None:
    good = "@misc{good,\n  title = {Kept},\n  abstract = {Has an abstract.}\n}\n"
    text = good + "".join(
        f"@article{{{key},\n" + ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        + "\n}\n" for key, fields in entries)
    check(text, "bibtex")
    check(text, None)


ARXIV_ID = st.from_regex(r"(?:\d{4}\.\d{4,5}|[a-z-]+/\d{7})(?:v\d)?", fullmatch=True)


@FAST
@given(st.lists(st.fixed_dictionaries(
    {"id": ARXIV_ID | st.text(max_size=8), "title": LATEX | st.text(max_size=10),
     "abstract": LATEX | st.text(max_size=30)},
    optional={"categories": st.sampled_from(["cs.LG", "math.OC hep-th", ""]) | st.integers(),
              "authors": LATEX | st.lists(st.text(max_size=5), max_size=2),
              "update_date": st.sampled_from(["2020-01-02", "2020", "soon", ""]),
              "doi": st.text(max_size=8) | st.none()}), min_size=1, max_size=4))
def test_arxiv_like_records(records: list[dict[str, object]]) -> None:
    text = "\n".join(json.dumps(r) for r in records)
    check(text, "arxiv")
    check(text, None)


@FAST
@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".bib", ".txt", ""])
@given(data=st.binary(max_size=200) | st.text(max_size=100).map(str.encode)
       | st.sampled_from(["caf\xe9".encode("latin-1"), b"\xef\xbb\xbf\xff", b'{"title": "x"',
                          b'[{"title": 1}', b'{\n"a": [1,\n', b"title,abstract\na,b,c\n"]))
def test_files_on_disk(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"collection{suffix}"
    path.write_bytes(data)
    try:
        result = parse_file(path)
    except ParseError as e:
        assert e.path == str(path)
        return
    assert result.papers and all(p.id and p.title and p.abstract for p in result.papers)
