"""Any input gives a ParseResult or a ParseError, for every format; FUZZ_N=3000 digs deeper."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.latex import latex_to_text
from ingest.parsers import FORMATS, ParseResult, parse_text
from ingest.parsers.fields import clean_text
from rag.errors import ParseError
from rag.ids import normalise_title

FAST = settings(
    max_examples=int(os.environ.get("FUZZ_N", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["2021", "2020-05-01", "A and B", "cs.LG math.OC", "0704.0001", " ", ""])
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
KEYS = [
    "id",
    "_id",
    "title",
    "abstract",
    "text",
    "summary",
    "authors",
    "year",
    "url",
    "doi",
    "doc",
    "categories",
    "update_date",
    "Title",
    "ABSTRACT",
]
RECORD = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), VALUE, max_size=7)
GOOD = st.fixed_dictionaries(
    {"title": st.text(min_size=1), "abstract": st.text(min_size=1)},
    optional={
        "id": SCALAR,
        "_id": SCALAR,
        "year": SCALAR,
        "authors": VALUE,
        "categories": SCALAR,
        "update_date": SCALAR,
    },
)


def check(text: str, format: str | None) -> None:
    """The contract: a clean, complete result or a ParseError naming the source."""
    try:
        result = parse_text(text, format=format, source="fuzz.in")
    except ParseError as e:
        assert e.path == "fuzz.in"
        return
    assert isinstance(result, ParseResult) and result.papers
    assert format is None or result.format == format
    for paper in result.papers:
        assert paper.id and paper.title and paper.abstract
        assert paper.title == clean_text(paper.title)
        assert paper.abstract == clean_text(paper.abstract)
    ids = [p.id for p in result.papers]
    assert len(set(ids)) == len(ids)


def jsonl(records: Sequence[object], junk: list[str]) -> str:
    return "\n".join([json.dumps(r) for r in records] + junk)


@FAST
@pytest.mark.parametrize("format", [*FORMATS, None])
@given(text=st.text())
def test_random_text(format, text):
    check(text, format)


@FAST
@pytest.mark.parametrize("format", ["jsonl", "beir", "arxiv", None])
@given(
    records=st.lists(RECORD | GOOD | VALUE, min_size=1, max_size=4),
    junk=st.lists(st.sampled_from(["", "{", "]", "nan", "  ", '{"a": 1e999}']), max_size=2),
)
def test_random_json_lines(format, records, junk):
    check(jsonl(records, junk), format)


@FAST
@given(data=st.lists(RECORD | GOOD, max_size=4) | VALUE, wrap=st.booleans(), indent=st.booleans())
def test_random_json_documents(data, wrap, indent):
    document = {"papers": data} if wrap else data
    check(json.dumps(document, indent=2 if indent else None), "json")


@FAST
@given(
    header=st.lists(st.sampled_from(KEYS) | st.text(max_size=5), min_size=1, max_size=5)
    | st.permutations(["title", "abstract", "year", "authors", "id"]),
    rows=st.lists(st.lists(st.text(max_size=15) | SCALAR.map(str), max_size=6), max_size=4),
)
def test_random_csv(header, rows):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    check(buffer.getvalue(), "csv")
    check(buffer.getvalue(), None)


BIB_PIECES = st.sampled_from(
    [
        "@article{",
        "@misc(",
        "@string{s = ",
        "@comment{",
        "key,",
        "title = ",
        "abstract = ",
        "author = ",
        "year = ",
        "{",
        "}",
        "(",
        ")",
        '"',
        ",",
        "=",
        " and ",
        "\\'e",
        "\\%",
        "\n",
        "x",
        "2020",
        "#",
        "%",
    ]
)


BIB_ENTRY = st.builds(
    "@article{{{}, title = {{{}}}, abstract = {{{}}}{}}}\n".format,
    st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True),
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=40),
    st.sampled_from(["", ", year = 2020", ", author = {B, A and C}", ", year = {19x}"]),
)


@FAST
@given(st.lists(BIB_ENTRY | BIB_PIECES | st.text(max_size=5), max_size=30).map("".join))
def test_random_bibtex(text):
    check(text, "bibtex")
    check(text, None)


CLEAN = st.text(min_size=1, max_size=30).filter(lambda t: clean_text(t) != "")
VALID = st.lists(
    st.tuples(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,7}", fullmatch=True), CLEAN, CLEAN),
    min_size=1,
    max_size=5,
    unique_by=(lambda r: r[0], lambda r: normalise_title(clean_text(r[1])) or r[1]),
)


def render(format: str, records: list[tuple[str, str, str]]) -> str:
    """The records in `format`, through each format's own writer."""
    key = "_id" if format == "beir" else "id"
    objects = [
        {key: i, "title": t, "abstract" if format != "beir" else "text": a} for i, t, a in records
    ]
    if format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows([["id", "title", "abstract"], *records])
        return buffer.getvalue()
    if format == "bibtex":
        return "".join(
            f"@misc{{{i},\n  title = {{{t}}},\n  abstract = {{{a}}}\n}}\n" for i, t, a in records
        )
    return json.dumps(objects) if format == "json" else jsonl(objects, [])


@FAST
@pytest.mark.parametrize("format", ["jsonl", "json", "beir", "arxiv", "csv"])
@given(records=VALID)
def test_valid_records_round_trip(format, records):
    result = parse_text(render(format, records), format=format)
    cleanup = (lambda t: clean_text(latex_to_text(t))) if format == "arxiv" else clean_text
    assert [(p.id, p.title, p.abstract) for p in result.papers] == [
        (i, cleanup(t), cleanup(a)) for i, t, a in records
    ]
    assert result.duplicates == 0


@FAST
@given(
    records=st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9 ,.:%$_+/-]*[A-Za-z]", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9 ,.:;()$_+/-]*[a-z]", fullmatch=True),
        ),
        min_size=1,
        max_size=4,
        unique_by=(lambda r: r[0], lambda r: normalise_title(r[1])),
    )
)
def test_valid_bibtex_round_trips(records):
    result = parse_text(render("bibtex", records))
    assert result.format == "bibtex"
    assert [(p.id, p.title, p.abstract) for p in result.papers] == [
        (i, clean_text(t), clean_text(a)) for i, t, a in records
    ]
