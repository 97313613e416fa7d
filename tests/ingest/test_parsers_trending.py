"""The trending page-dump parser, on the bundled collection, a small fixture and generated dumps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.bundled import bundled_collection_path
from ingest.parsers import detect_format, parse_file, parse_text
from rag.errors import ParseError
from rag.ids import normalise_title, slugify_title

DATA = Path(__file__).parents[1] / "data"
BUNDLED = bundled_collection_path()
RAW_LINES = BUNDLED.read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def bundled():
    return parse_file(BUNDLED)


def test_bundled_file_gives_119_clean_papers(bundled):
    assert bundled.format == "trending"
    assert len(bundled.papers) == 119
    assert bundled.duplicates == 0 and bundled.warnings == []
    assert bundled.papers[0].title == "Efficient Neural Network Training via Subset Pretraining"
    assert bundled.papers[-1].title.startswith("Accelerating Training with Neuron Interaction")


def test_bundled_file_has_no_boilerplate_or_latex_left(bundled):
    for paper in bundled.papers:
        assert not paper.title.startswith("Subscribe")
        for text in (paper.title, paper.abstract):
            assert "Get trending papers" not in text
            assert "\\" not in text and "{\\deg}" not in text
            assert text == text.strip() and "  " not in text
    zero_rf = next(p for p in bundled.papers if p.title.startswith("ZeroRF"))
    assert "sparse view 360° reconstruction" in zero_rf.abstract


def test_bundled_ids_are_unique_and_stable(bundled):
    ids = [p.id for p in bundled.papers]
    assert len(set(ids)) == 119
    assert ids == [slugify_title(p.title) for p in bundled.papers]
    # Pinned: stored collections and eval suites refer to papers by these ids.
    assert ids[0] == "efficient-neural-network-training-via-subset-pretraining-8165c9"
    assert [p.id for p in parse_file(BUNDLED).papers] == ids


def test_plain_text_in_real_abstracts_survives_unchanged(bundled):
    """`%`, `$`, `_`, `+/-`, `--` and ` ~ ` are ordinary text here, not LaTeX."""
    by_line = {p.abstract: p for p in bundled.papers}
    untouched = [line.strip() for line in RAW_LINES[3::2] if not re.search(r"\\|~\S|``", line)]
    assert len(untouched) > 100
    for line in untouched:
        assert line in by_line
    text = " ".join(f"{p.title} {p.abstract}" for p in bundled.papers)
    for kept in (
        "31% reduction",
        "0.837 +/- 0.068",
        "audioset_tagging_cnn",
        "U-Mamba_Enc",
        "2.2702 ~ 5.9563",
        "core knowledge -- a set",
        "Quality, & Toxicity",
    ):
        assert kept in text
    for rewritten in (
        "method -- Avg-K that",
        "(e.g. RoBERTa)",
        "up to 50% in vision",
        "“stone” weights",
        "open-sourced at https://github.com/abdelfattah-lab/flan_nas.",
    ):
        assert rewritten in text


def test_small_fixture_boilerplate_latex_and_duplicates():
    result = parse_file(DATA / "parsers_trending.txt")
    assert [p.title for p in result.papers] == [
        "Sparse View 360° Reconstruction Without Pretraining",
        "Masked Autoencoders for Tabular Data",
        "Subscribers Prefer Short Titles: A Study",  # a real word, not the glued button text
    ]
    assert "cutting error by 50% and keeping 95% of the quality" in result.papers[0].abstract
    assert "$5 compute budget and +/- 0.3 variance" in result.papers[1].abstract
    assert result.papers[1].abstract.startswith("Masked autoencoding transfers")  # first kept
    assert result.duplicates == 1
    assert result.warnings == ["parsers_trending.txt: 1 duplicate paper merged (line 10)"]


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "dump.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_title_without_abstract_names_file_and_line(tmp_path):
    path = _write(tmp_path, [*RAW_LINES[:10], "A Trailing Title With No Abstract"])
    with pytest.raises(ParseError) as err:
        parse_file(path)
    assert err.value.line == 11 and err.value.path == str(path)
    assert str(err.value).startswith(f"{path}:11: ")


def test_missing_abstract_in_the_middle_is_reported_where_it_happens(tmp_path):
    lines = RAW_LINES[:41] + RAW_LINES[42:]  # line 42: the abstract of the title on line 41
    with pytest.raises(ParseError) as err:
        parse_file(_write(tmp_path, lines))
    assert err.value.line == 42  # the next title now stands where the abstract should be
    assert "title on line 41" in err.value.reason


def test_missing_title_shows_as_an_overlong_title_line(tmp_path):
    lines = RAW_LINES[:40] + RAW_LINES[41:]  # the title on line 41 gone
    with pytest.raises(ParseError) as err:
        parse_file(_write(tmp_path, lines))
    assert err.value.line == 41 and "looks like an abstract" in err.value.reason


def test_abstract_shorter_than_its_title_is_rejected():
    text = "A Fairly Long Title About Pretraining Large Models\nToo short.\n"
    with pytest.raises(ParseError) as err:
        parse_text(text, format="trending", source="upload.txt")
    assert (err.value.path, err.value.line) == ("upload.txt", 2)


def test_only_boilerplate_is_an_error():
    with pytest.raises(ParseError, match="no papers"):
        parse_text(RAW_LINES[0] + "\n" + RAW_LINES[1] + "\n\n", format="trending")


WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzéüß0123456789%$_+-/:,.()&", min_size=4, max_size=8
)
TITLE = st.builds(
    lambda head, rest: " ".join([head, *rest]),
    st.sampled_from(["Deep", "Zero", "X", "Über", "3D", "Learning", "A"]),
    st.lists(WORD, max_size=11),
)
# Abstracts several times longer than titles and within 4x of each other, as real ones are;
# repeating a drawn word list keeps generation fast.
ABSTRACT = st.lists(WORD, min_size=8, max_size=12).map(lambda words: " ".join(words * 4))
PAPERS = st.lists(
    st.tuples(TITLE, ABSTRACT),
    min_size=1,
    max_size=8,
    unique_by=lambda pair: normalise_title(pair[0]),
)


def render(papers, pad: list[str]) -> str:
    """Lay papers out like the page dump: boilerplate, glued Subscribe, stray whitespace."""
    lines = [RAW_LINES[0], RAW_LINES[1]]
    for i, (title, abstract) in enumerate(papers):
        lines += [("Subscribe" if i == 0 else "") + title + pad[i % len(pad)], "", abstract]
    return "\n".join(lines) + "\n"


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(PAPERS, st.lists(st.sampled_from(["", " ", "\t", "  \r"]), min_size=1, max_size=3))
def test_generated_dumps_round_trip(papers, pad):
    result = parse_text(render(papers, pad), source="gen.txt")
    assert result.format == "trending"
    assert [(p.title, p.abstract) for p in result.papers] == papers
    assert [p.id for p in result.papers] == [slugify_title(t) for t, _ in papers]


@settings(max_examples=150)
@given(st.text())
def test_garbage_gives_a_result_or_a_parse_error(text):
    try:
        result = parse_text(text, format="trending", source="junk.txt")
    except ParseError as e:
        assert e.path == "junk.txt"
        return
    for paper in result.papers:
        assert paper.title and len(paper.abstract) >= len(paper.title)


def test_detection_picks_trending_for_the_bundled_file():
    assert detect_format(BUNDLED.read_text(encoding="utf-8")) == "trending"


@pytest.mark.parametrize("removed", [3, 8, 57, 100, 141, 186, 199, 238])
def test_any_single_lost_line_is_caught_at_or_just_after_it(removed):
    lines = RAW_LINES[: removed - 1] + RAW_LINES[removed:]
    with pytest.raises(ParseError) as err:
        parse_text("\n".join(lines), source="cut.txt")
    assert removed <= err.value.line <= removed + 1


def test_losing_a_whole_paper_is_not_an_error():
    lines = RAW_LINES[:56] + RAW_LINES[58:]  # the title on line 57 and its abstract
    assert len(parse_text("\n".join(lines)).papers) == 118
