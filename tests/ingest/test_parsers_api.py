"""The public API: detection, files (encoding, several at once), dedup and the bundled file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.bundled import bundled_collection_path
from ingest.parsers import FORMATS, detect_format, parse_file, parse_files, parse_text
from rag.errors import ParseError

DATA = Path(__file__).parents[1] / "data"
FIXTURES = {
    "parsers_trending.txt": "trending",
    "parsers_papers.jsonl": "jsonl",
    "parsers_papers.json": "json",
    "parsers_corpus.jsonl": "beir",
    "parsers_arxiv.jsonl": "arxiv",
    "parsers_papers.csv": "csv",
    "parsers_papers.bib": "bibtex",
}


@pytest.mark.parametrize(("name", "expected"), FIXTURES.items())
def test_detection_by_content_for_every_fixture(name, expected):
    text = (DATA / name).read_text(encoding="utf-8")
    assert detect_format(text) == expected  # no file name: content alone
    assert detect_format(text, "upload.txt") == expected  # a misleading extension loses
    assert parse_file(DATA / name).format == expected


def test_every_format_has_a_fixture():
    assert sorted(FIXTURES.values()) == sorted(FORMATS)


def test_extension_breaks_ties_only():
    broken = '{"title": "T", "abstract": \n'  # could be broken jsonl or broken json
    assert detect_format(broken) == "jsonl"
    assert detect_format(broken, "x.json") == "json"
    assert detect_format("Some title\nSome abstract line\n", "notes.csv") == "csv"
    assert detect_format("Some title\nSome abstract line\n") == "trending"
    assert detect_format('{"papers": [{"title": "T", "abstract": "A"}]}') == "json"
    arxiv_like = {"id": "2101.00001", "title": "T", "abstract": "A", "categories": "cs.LG"}
    assert detect_format(json.dumps(arxiv_like)) == "arxiv"
    assert detect_format(json.dumps({**arxiv_like, "id": "mine-1"})) == "jsonl"


@pytest.mark.parametrize("text", ["", "  \n\n", "one single line"])
def test_undetectable_input_is_a_parse_error(text):
    with pytest.raises(ParseError) as err:
        detect_format(text, "mystery.dat")
    assert err.value.path == "mystery.dat"


def test_unknown_format_name_is_a_parse_error():
    with pytest.raises(ParseError, match="unknown format 'yaml'"):
        parse_text("x", format="yaml")


def test_bom_and_crlf_are_tolerated(tmp_path):
    path = tmp_path / "papers.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"title": "T\xc3\xa9", "abstract": "A."}\r\n')
    assert [p.title for p in parse_file(path).papers] == ["Té"]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_windows_and_old_mac_line_endings(newline):
    text = (DATA / "parsers_trending.txt").read_text(encoding="utf-8").replace("\n", newline)
    result = parse_text(text, source="mac.txt")
    assert result.format == "trending" and len(result.papers) == 3
    assert result.warnings == ["mac.txt: 1 duplicate paper merged (line 10)"]


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"Title\nAbstract\nCaf\xe9 title\n")
    with pytest.raises(ParseError) as err:
        parse_file(path)
    assert (err.value.path, err.value.line) == (str(path), 3)
    assert "UTF-8" in err.value.reason


def test_missing_file_is_a_parse_error(tmp_path):
    with pytest.raises(ParseError) as err:
        parse_file(tmp_path / "nope.jsonl")
    assert err.value.path == str(tmp_path / "nope.jsonl")


def test_several_files_merge_and_dedup_across_them(tmp_path):
    extra = tmp_path / "extra.jsonl"
    extra.write_text(
        json.dumps({"title": "Dense passage retrieval!", "abstract": "Other text.", "url": "u"})
        + "\n"
        + json.dumps({"title": "New Paper", "abstract": "New."})
        + "\n",
        encoding="utf-8",
    )
    result = parse_files([DATA / "parsers_papers.jsonl", extra, DATA / "parsers_papers.bib"])
    titles = [p.title for p in result.papers]
    assert titles == [
        "Dense Passage Retrieval",
        "ColBERT: Efficient Passage Search",
        "Sentence-BERT",
        "New Paper",
        "Attention is All you Need",
        "Café Reviews with BERT",
    ]
    assert result.papers[0].url == "https://arxiv.org/abs/2004.04906"  # the first one's kept
    assert result.duplicates == 2 and result.format == "jsonl+bibtex"
    assert "extra.jsonl: 1 duplicate paper merged (line 1)" in result.warnings
    assert any(w.startswith("parsers_papers.bib: 1 entry without") for w in result.warnings)


def test_parse_is_all_or_nothing_across_files(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "T", "abstract": "A"}\n{"title": "no abstract"}\n', "utf-8")
    with pytest.raises(ParseError) as err:
        parse_files([DATA / "parsers_papers.jsonl", bad])
    assert (err.value.path, err.value.line) == (str(bad), 2)
    with pytest.raises(ParseError):
        parse_files([])


def test_explicit_format_overrides_detection():
    text = "title,abstract\nA Title,An abstract that is longer.\n"
    assert parse_text(text).papers[0].title == "A Title"
    assert parse_text(text, format="trending").papers[0].title == "title,abstract"


def test_bundled_collection_is_package_data():
    path = bundled_collection_path()
    assert path.name == "trending-pretraining-papers.txt" and path.is_file()
    assert path.parent.parent == Path(__import__("ingest").__file__).parent
    assert len(parse_file(path).papers) == 119


def test_importing_the_parsers_stays_cheap():
    code = (
        "import sys, ingest.parsers, ingest.bundled\n"
        "heavy = {'bibtexparser', 'pylatexenc', 'torch', 'chromadb'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
