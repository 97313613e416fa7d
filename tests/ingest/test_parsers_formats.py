"""The record formats: jsonl, json, beir, arxiv, csv and bibtex, on fixtures and broken input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.parsers import parse_file, parse_text
from rag.errors import ParseError
from rag.ids import slugify_title

DATA = Path(__file__).parents[1] / "data"


def error(text: str, format: str, source: str = "in.txt") -> ParseError:
    with pytest.raises(ParseError) as err:
        parse_text(text, format=format, source=source)
    assert err.value.path == source
    return err.value


def test_jsonl_fields_aliases_and_duplicate_fill():
    result = parse_file(DATA / "parsers_papers.jsonl")
    first, colbert, sbert = result.papers
    assert (first.id, first.year, first.authors) == (
        "p1",
        2020,
        ("Vladimir Karpukhin", "Barlas Oguz"),
    )
    assert first.title == "Dense Passage Retrieval"  # the later record with id p1 merged in...
    assert first.doi == "10.18653/v1/2020.emnlp-main.550"  # ...filling only the empty field
    assert colbert.id == slugify_title("ColBERT: Efficient Passage Search")
    assert colbert.title == "ColBERT: Efficient Passage Search"
    assert (
        colbert.abstract == "Late interaction over BERT for efficient and effective passage search."
    )
    assert (colbert.year, colbert.categories) == (2020, ("cs.IR", "cs.CL"))
    assert colbert.authors == ("Omar Khattab", "Matei Zaharia")
    assert sbert.authors == ("Nils Reimers", "Iryna Gurevych")
    assert sbert.abstract == "Sentence embeddings using Siamese BERT-networks."
    assert result.duplicates == 1
    assert result.warnings == ["parsers_papers.jsonl: 1 duplicate paper merged (line 5)"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"abstract": "no title"}', "missing 'title'"),
        ('{"title": "T"}', "missing abstract"),
        ('{"title": "T", "abstract": "   "}', "empty abstract"),
        ('{"title": 3, "abstract": "a"}', "'title' must be a string"),
        ('{"title": "T", "abstract": "a", "year": "soon"}', "'year' must be a year"),
        ('{"title": "T", "abstract": "a", "authors": 7}', "'authors' must be a list"),
        ('{"title": "T", "abstract": "a",', "invalid JSON"),
        ('["title", "abstract"]', "expected a JSON object"),
    ],
)
def test_jsonl_errors_name_the_line(line, reason):
    good = '{"title": "Fine", "abstract": "A fine abstract."}'
    err = error(f"{good}\n\n{good}\n{line}\n{good}\n", "jsonl", "papers.jsonl")
    assert err.line == 4 and reason in err.reason
    assert str(err).startswith("papers.jsonl:4: ")


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2020, 2020), ("2020", 2020), (2020.0, 2020), (" 1999 ", 1999), ("", None)],
)
def test_year_accepts_ints_numeric_strings_and_whole_floats(year, expected):
    line = json.dumps({"title": "T", "abstract": "A", "year": year})
    assert parse_text(line, format="jsonl").papers[0].year == expected


def test_json_list_and_papers_object():
    listed = parse_file(DATA / "parsers_papers.json")
    assert [p.id for p in listed.papers] == ["j1", slugify_title(listed.papers[1].title)]
    assert listed.papers[1].doi == "10.18653/v1/N19-1423"  # `doc` is accepted for the DOI
    wrapped = parse_text(json.dumps({"papers": [{"title": "T", "abstract": "A."}]}), format="json")
    assert [(p.title, p.abstract) for p in wrapped.papers] == [("T", "A.")]


def test_json_errors_give_the_line_of_the_offending_object():
    items = [{"title": "One", "abstract": "First."}, {"title": "Two"}]
    err = error(json.dumps(items, indent=2), "json")
    assert err.line == 6 and "missing abstract" in err.reason  # `{` of the 2nd item
    wrapped = json.dumps({"name": "x", "papers": [items[0], 5]}, indent=1)
    err = error(wrapped, "json")
    assert "item 1" in err.reason and wrapped.split("\n")[err.line - 1].strip() == "5"
    err = error('[\n  {"title": "a",\n  "abstract": }\n]', "json")
    assert err.line == 3 and "invalid JSON" in err.reason
    assert "list of papers" in error('{"title": "T", "abstract": "A"}', "json").reason


def test_beir_keeps_the_corpus_id():
    result = parse_file(DATA / "parsers_corpus.jsonl")
    assert [p.id for p in result.papers] == ["4983", "5836"]
    assert result.papers[0].abstract.startswith("Alterations of the architecture")
    assert error('{"title": "T", "text": "x"}\n', "beir").reason == "missing '_id'"


def test_arxiv_snapshot_lines():
    first, second = parse_file(DATA / "parsers_arxiv.jsonl").papers
    assert first.id == "0704.0001" and first.year == 2008  # from update_date
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.abstract.startswith("A fully differential calculation in perturbative quantum")
    assert first.abstract.endswith("at hadron colliders, at 50% of the cost.")
    assert first.authors[0] == "C. Balázs" and second.authors[1] == "Barlas Oğuz"
    assert (first.doi, first.categories) == ("10.1103/PhysRevD.76.013009", ("hep-ph",))
    assert second.url == "https://arxiv.org/abs/2004.04906" and second.doi is None
    bad = '{"id": "2101.00001", "title": "T", "abstract": "A", "update_date": "May 2021"}'
    assert "update_date" in error(bad, "arxiv").reason


def test_csv_header_case_multiline_rows_and_blank_rows():
    result = parse_file(DATA / "parsers_papers.csv")
    resnet, adam, batchnorm = result.papers
    assert (resnet.id, resnet.year, resnet.categories) == ("c1", 2016, ("cs.CV",))
    assert resnet.authors == ("Kaiming He", "Xiangyu Zhang")
    assert adam.abstract == (
        "We introduce Adam, an algorithm for first-order gradient-based optimization."
    )
    assert adam.authors == ("Diederik P. Kingma", "Jimmy Ba")
    assert batchnorm.id == slugify_title("Batch Normalization") and batchnorm.year is None


def test_csv_errors_name_the_row_line():
    head = "title,abstract,year\nOne,First abstract.,2020\n"
    err = error(head + 'Two,"Second\nabstract, two lines",20x\n', "csv", "p.csv")
    assert err.line == 3 and "'year'" in err.reason
    assert error(head + "Three,,\n", "csv").line == 3
    assert error(head + "Four,A,2020,extra\n", "csv").reason.startswith("row has 4 fields")
    assert error("name,summary\nx,y\n", "csv").line == 1
    assert error('title,abstract\n"unterminated,x\n', "csv", "q.csv").path == "q.csv"


def test_bibtex_entries_latex_and_skipped_entries():
    result = parse_file(DATA / "parsers_papers.bib")
    attention, cafe = result.papers
    assert attention.id == "vaswani2017attention"
    assert attention.title == "Attention is All you Need"
    assert attention.authors == ("Ashish Vaswani", "Noam Shazeer")  # "and others" dropped
    assert "50% cheaper" in attention.abstract and "\n" not in attention.abstract
    assert attention.categories == ("attention", "transformers")
    assert cafe.title == "Café Reviews with BERT" and cafe.authors == ("Jörg Müller",)
    assert cafe.abstract == "We classify café reviews at 360° with $α$-weighted BERT features."
    assert cafe.year == 2019  # "2019a"
    assert result.warnings == [
        "parsers_papers.bib: 1 entry without an abstract skipped: noabstract2020 (line 15)"
    ]


def test_bibtex_failures_name_the_line():
    ok = "@article{a,\n  title = {T},\n  abstract = {An abstract.}\n}\n"
    err = error(ok + "\n@article{b,\n  title = {Broken\n", "bibtex", "refs.bib")
    assert err.line == 6 and "refs.bib:6" in str(err)
    err = error(ok + "@article{c, title = {X}, title = {Y}, abstract = {Z}}\n", "bibtex")
    assert err.line == 5 and "title" in err.reason
    err = error("@article{n, title = {No abstract}}\n", "bibtex")
    assert err.line == 1 and "no BibTeX entries with an abstract" in err.reason


def test_bibtex_duplicate_keys_are_merged_not_failed():
    entry = "@article{k,\n  title = {Same},\n  abstract = {Text.}%s\n}\n"
    result = parse_text(entry % "" + entry % ",\n  doi = {10.1/x}", format="bibtex")
    assert [(p.id, p.doi) for p in result.papers] == [("k", "10.1/x")]
    assert result.duplicates == 1
