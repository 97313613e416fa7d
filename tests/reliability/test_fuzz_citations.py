"""Fuzzing the citation parser and the answer contract (issue 7, hostile input).

Whatever text the model streams (a prompt-injected abstract can make it say anything), the
answer keeps its contract: markers only number cited sources, citations point at retrieved
papers, the streamed tokens add up to the answer, and nothing raises. Three ways the
contract breaks today are pinned as strict xfails for rag/answer/citations.py.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from rag.answer.citations import Renumberer, parse_marker, renumber, score_support
from rag.answer.service import Assistant
from rag.answer.text import MARKER, split_sentences, strip_markers
from rag.answer.vectors import SentenceVectors
from rag.embedders.fake import HashingEmbedder
from rag.models import SearchHit
from rag.settings import Settings
from tests.rag.conftest import ANSWER_PAPERS, FakeLibrary
from tests.utils.fake_openai import FakeOpenAI, fake_openai_server

FAST = settings(max_examples=int(os.environ.get("FUZZ_N", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])

# Pieces of model output around markers: numbers in and out of range, ranges, separators,
# dashes, brackets on their own, sentence ends, newlines, plain words, any character.
PIECE = st.sampled_from([
    "[", "]", "[1]", "[2]", "[3]", "[0]", "[9]", "[42]", "[1, 2]", "[2-3]", "[3–1]", "[1;9]",
    "[ 2 ]", "[1-999999999]", "1", "23", ",", ";", "-", "–", " ", "  ", ".", "!", "?", "\n",
    "e.g.", "et al.", "Claim", "sources", "(", ")", "[a]", "[x1]", "[^1]",
]) | st.text(max_size=3)
REPLY = st.lists(PIECE, max_size=40).map("".join)


def numbers(text: str) -> list[int]:
    """Every number inside a citation marker of `text`."""
    return [int(n) for m in MARKER.finditer(text) for n in re.findall(r"\d+", m.group(1))]


def _digit_runs_short(text: str) -> bool:
    # Longer runs after "[" hit the exponential backtracking pinned below; keep runs short.
    return max((len(r) for r in re.findall(r"\d+", text)), default=0) <= 12


def _not_nested(text: str) -> bool:
    # A "[" inside an open "[" is the marker splice pinned below.
    return re.search(r"\[[^\]]*\[", text) is None


def _splits(text: str, cuts: list[int]) -> Iterator[str]:
    at = 0
    for cut in sorted({c % (len(text) + 1) for c in cuts}):
        yield text[at:cut]
        at = cut
    yield text[at:]


@FAST
@given(body=st.lists(PIECE, max_size=12).map("".join), k=st.integers(0, 30))
def test_parse_marker_keeps_only_valid_numbers(body: str, k: int) -> None:
    assume(_digit_runs_short(body))
    # Bodies come from MARKER, whose \d never matches "²"-like digits (str.isdigit() is
    # true for them but int() refuses them); called directly, parse_marker("²", k) raises.
    assume(all(c.isdecimal() or not c.isdigit() for c in body))
    nums = parse_marker(body, k)
    assert all(1 <= n <= k for n in nums)
    assert len(set(nums)) == len(nums)


@FAST
@given(text=REPLY, k=st.integers(0, 6), cuts=st.lists(st.integers(0, 400), max_size=12))
@example(text="A [3]. B [1, 3]. C [9] and D [2-4]. E [0].", k=3, cuts=[5, 6, 7])
def test_renumbering_streamed_equals_whole_and_markers_are_valid(text: str, k: int,
                                                                 cuts: list[int]) -> None:
    assume(_digit_runs_short(text))
    whole, order = renumber(text, k)
    r = Renumberer(k)
    streamed = "".join(r.feed(piece) for piece in _splits(text, cuts)) + r.finish()
    assert streamed == whole and r.order == order
    assert all(1 <= n <= k for n in order) and len(set(order)) == len(order)
    if _not_nested(text):
        # Every marker left in the text numbers a cited source, in order of first use.
        assert set(numbers(whole)) == set(range(1, len(order) + 1))
        firsts = list(dict.fromkeys(numbers(whole)))
        assert firsts == sorted(firsts)


def _hit(n: int) -> SearchHit:
    p = ANSWER_PAPERS[n % len(ANSWER_PAPERS)]
    return SearchHit(rank=n + 1, paper_id=p.id, title=p.title, score=1.0,
                     snippet=p.abstract[:80], abstract=p.abstract)


@FAST
@given(answer=REPLY, n_cited=st.integers(0, 4))
def test_support_scoring_accepts_any_answer(answer: str, n_cited: int) -> None:
    assume(_digit_runs_short(answer))
    vectors = SentenceVectors(HashingEmbedder(64))
    sentences, citations = score_support(answer, [_hit(i) for i in range(n_cited)], vectors,
                                         0.5)
    assert [c.n for c in citations] == list(range(1, n_cited + 1))
    for s in sentences:
        assert s["text"] and s["text"] == strip_markers(s["text"])
        assert all(1 <= n <= n_cited for n in s["citations"])
        assert s["support"] is None or -1.001 <= s["support"] <= 1.001
    assert all(s.strip() == s and s for s in split_sentences(answer))


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeOpenAI]:
    with fake_openai_server() as fake:
        yield fake


@pytest.mark.slow  # many hypothesis examples
@FAST
@given(reply=REPLY, chunk=st.integers(1, 7))
def test_any_model_reply_keeps_the_answer_contract(settings: Settings, fake_llm: FakeOpenAI,
                                                   reply: str, chunk: int) -> None:
    """End to end over HTTP to the fake model: the reply is arbitrary, the contract is not."""
    assume(_digit_runs_short(reply) and _not_nested(reply))
    fake_llm.chunk_chars = chunk
    fake_llm.queue(reply)
    assistant = Assistant(settings.with_overrides(llm__base_url=fake_llm.base_url,
                                                  llm__max_retries=0),
                          FakeLibrary(settings, ANSWER_PAPERS))
    events = list(assistant.stream("Which papers pretrain vision transformers on images?"))
    assert events[-1].type == "done", events[-1]
    done = events[-1].data
    streamed = "".join(e.data["text"] for e in events if e.type == "token")
    assert streamed == done["answer"]
    sources = {s["paper_id"] for s in events[0].data["sources"]}
    cited = [c["paper_id"] for c in done["citations"]]
    assert [c["n"] for c in done["citations"]] == list(range(1, len(cited) + 1))
    assert set(cited) <= sources and len(set(cited)) == len(cited)
    assert set(numbers(done["answer"])) <= set(range(1, len(cited) + 1))


# -- found by the fuzzing above, fixed in rag/answer/citations.py ------------------------

def test_partial_marker_check_is_not_exponential() -> None:
    r = Renumberer(3)
    t0 = time.perf_counter()
    r.feed("See [" + "1" * 40 + "x for details.")
    # Exponential backtracking would take hours at 40 digits; linear takes microseconds.
    assert time.perf_counter() - t0 < 2.0


def test_a_huge_marker_number_is_dropped_not_an_error() -> None:
    assert renumber("See [" + "1" * 5000 + "].", 3) == ("See.", [])


@pytest.mark.parametrize("text", ["x [2[7]] y [1].", "[1[9]]", "See [[9]1].", "[1 [9], 2]"])
def test_dropping_a_marker_never_forms_a_new_one(text: str) -> None:
    whole, order = renumber(text, 3)
    assert set(numbers(whole)) <= set(range(1, len(order) + 1)), (whole, order)
