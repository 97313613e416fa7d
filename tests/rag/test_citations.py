"""Citation markers: parsing, out-of-range drops, renumbering (whole and streamed), support."""

from __future__ import annotations

import pytest

from rag.answer.citations import Renumberer, parse_marker, renumber, score_support
from rag.answer.text import split_sentences, strip_markers
from rag.answer.vectors import SentenceVectors
from rag.embedders.fake import HashingEmbedder
from rag.models import SearchHit


@pytest.mark.parametrize(("body", "k", "expected"), [
    ("1", 5, [1]),
    ("2, 4", 5, [2, 4]),
    ("2,4;5", 5, [2, 4, 5]),
    ("1-3", 5, [1, 2, 3]),
    ("3–1", 5, [1, 2, 3]),  # en dash, reversed
    ("2—3", 5, [2, 3]),  # em dash
    ("4-9", 5, [4, 5]),  # range clipped to the sources
    ("0", 5, []),
    ("6, 7", 5, []),
    ("1, 1, 2", 5, [1, 2]),
    ("1-1000000000", 3, [1, 2, 3]),  # a huge range is clipped, not expanded
])
def test_parse_marker(body: str, k: int, expected: list[int]) -> None:
    assert parse_marker(body, k) == expected


def test_renumber_by_first_use_and_drop_out_of_range() -> None:
    text = "A holds [3]. B too [1, 3]. C [9] and D [2-4]. E [0]."
    new, order = renumber(text, 3)
    assert order == [3, 1, 2]
    assert new == "A holds [1]. B too [1, 2]. C and D [1, 3]. E."


def test_renumber_leaves_non_citation_brackets() -> None:
    new, order = renumber("See [a] and [x1] and [1] and [ 2 ].", 2)
    assert new == "See [a] and [x1] and [1] and [2]."
    assert order == [1, 2]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_streamed_renumbering_matches_whole_text(size: int) -> None:
    text = ("First claim [4].\nSecond [2, 4] and a range [1–2]. Bad [17] one. "
            "A bracket [not a cite] and an unclosed [3")
    whole, order = renumber(text, 4)
    r = Renumberer(4)
    pieces = [r.feed(text[i:i + size]) for i in range(0, len(text), size)]
    assert "".join(pieces) + r.finish() == whole
    assert r.order == order
    assert whole.startswith("First claim [1].\nSecond [1, 2] and a range [2, 3]. Bad one.")


def test_split_sentences_keeps_markers_and_abbreviations() -> None:
    text = ("Smith et al. show a 0.5 gain, e.g. on ImageNet.[1] Next claim [2]!\n"
            "- A bullet point here.\n1. A numbered item.")
    assert split_sentences(text) == [
        "Smith et al. show a 0.5 gain, e.g. on ImageNet.[1]", "Next claim [2]!",
        "A bullet point here.", "A numbered item."]
    assert strip_markers("Claim one [1, 2]. More [3].") == "Claim one. More."
    # Seen in the bundled abstracts: "etc.)" mid-sentence, enumerators like "(1.)", and
    # a citation placed after a closing parenthesis.
    assert split_sentences("Links (e.g., citation, etc.) that connect fields (e.g., Physics, "
                           "etc.) [1]. Capabilities: (1.) The ability to add data. Done.") == [
        "Links (e.g., citation, etc.) that connect fields (e.g., Physics, etc.) [1].",
        "Capabilities: (1.) The ability to add data.", "Done."]


def _hit(n: int, title: str, abstract: str) -> SearchHit:
    return SearchHit(rank=n, paper_id=f"p{n}", title=title, score=1.0, snippet=abstract[:50],
                     abstract=abstract)


def test_support_flags_uncited_and_weak_sentences() -> None:
    cited = [_hit(1, "Masked autoencoders", "Masking 75 percent of image patches yields a "
                  "nontrivial self-supervisory task. The encoder is a vision transformer."),
             _hit(2, "Speech", "Unsupervised pretraining on raw audio lowers word error rate.")]
    answer = ("Masking 75 percent of image patches yields a nontrivial self-supervisory task "
              "[1]. Bananas grow on tall tropical plants near the sea [2]. Transformers are "
              "everywhere today.")
    vectors = SentenceVectors(HashingEmbedder(256))
    sentences, citations = score_support(answer, cited, vectors, threshold=0.5)
    by_text = {s["text"]: s for s in sentences}
    copied = by_text["Masking 75 percent of image patches yields a nontrivial "
                     "self-supervisory task."]
    assert copied["supported"] and copied["support"] == pytest.approx(1.0, abs=1e-5)
    assert copied["citations"] == [1]
    weak = by_text["Bananas grow on tall tropical plants near the sea."]
    assert not weak["supported"] and weak["support"] < 0.5
    uncited = by_text["Transformers are everywhere today."]
    assert not uncited["supported"] and uncited["support"] < 0.5  # vs papers cited elsewhere
    assert [c.paper_id for c in citations] == ["p1", "p2"]
    assert citations[0].snippet.startswith("Masking 75 percent")  # best supporting sentence
    assert citations[0].support == pytest.approx(1.0, abs=1e-5)


def test_an_uncited_sentence_is_judged_against_the_papers_the_answer_cites() -> None:
    """Models often cite once per paragraph: the sentences before the marker are not flagged
    when a cited paper backs them, and still are when none does."""
    cited = [_hit(1, "Masked autoencoders", "Masking 75 percent of image patches yields a "
                  "nontrivial self-supervisory task. The encoder is a vision transformer.")]
    answer = ("The encoder is a vision transformer. Bananas grow on tall tropical plants. "
              "Masking 75 percent of image patches yields a nontrivial self-supervisory task "
              "[1].")
    sentences, _ = score_support(answer, cited, SentenceVectors(HashingEmbedder(256)),
                                 threshold=0.5)
    by_text = {s["text"]: s for s in sentences}
    backed = by_text["The encoder is a vision transformer."]
    assert backed["citations"] == [] and backed["supported"]
    assert not by_text["Bananas grow on tall tropical plants."]["supported"]
    # With no citation anywhere there is nothing to judge an uncited sentence against.
    alone, _ = score_support("The encoder is a vision transformer.", cited,
                             SentenceVectors(HashingEmbedder(256)), threshold=0.5)
    assert not alone[0]["supported"] and alone[0]["support"] is None


def test_meta_sentences_are_not_flagged() -> None:
    vectors = SentenceVectors(HashingEmbedder(64))
    sentences, _ = score_support(
        "Two papers speak to this:\nThe sources do not say which dataset was used.", [],
        vectors, threshold=0.5)
    assert all(s["supported"] for s in sentences)
