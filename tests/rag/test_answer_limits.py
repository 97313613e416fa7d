"""Say what the data cannot answer: questions about dates, authors, venues or counts get a note
when the papers do not record them (both engines), and the field when they do."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rag.answer import limits
from rag.answer.service import Assistant
from rag.models import SearchResponse
from rag.settings import Settings
from tests.rag.conftest import ANSWER_PAPERS, FakeLibrary
from tests.utils.fake_openai import FakeOpenAI

SUITES = Path(__file__).parents[2] / "evals" / "suites"
HISTORY = [{"role": "user", "content": "Which papers pretrain vision transformers?"},
           {"role": "assistant", "content": "MAE masks patches [1]. CT scans too [2].",
            "citations": [{"n": 1, "paper_id": "mae", "title": ANSWER_PAPERS[0].title},
                          {"n": 2, "paper_id": "medvit", "title": ANSWER_PAPERS[2].title}]}]
DATES = limits.NOTE.format(labels="publication dates")


@pytest.mark.parametrize(("question", "facets", "rest"), [
    ("which of those is the most recent?", ["year"], "which of those ?"),
    ("When was wav2vec published?", ["year"], "wav2vec ?"),
    ("Who wrote the masked autoencoder paper?", ["authors"], "the masked autoencoder paper?"),
    ("which conference was CroCo published at?", ["venue"], "was CroCo ?"),
    ("what is the most cited paper on speech?", ["citations"], "what is the paper on speech?"),
    ("how many papers are about proteins?", ["count"], "are about proteins?"),
    ("which is the oldest paper on graph pretraining", ["year"],
     "which paper on graph pretraining"),
])
def test_asks_are_recognised_and_taken_out(question: str, facets: list[str],
                                           rest: str) -> None:
    assert [f.name for f, _ in limits.asks(question)] == facets
    assert limits.strip_asks(question) == rest


@pytest.mark.parametrize("question", [
    "What is the earliest stage of Alzheimer's disease the model detects?",
    "how many molecules were used for pretraining?",
    "What do the authors of MAE propose?",
    "Which papers do authorship attribution?",
    "How often is the masking ratio 75 percent?",
])
def test_content_questions_are_not_asks(question: str) -> None:
    assert limits.asks(question) == []


def test_no_suite_question_is_mistaken_for_an_ask() -> None:
    questions = [json.loads(line)["question"] for path in sorted(SUITES.glob("*.jsonl"))
                 for line in path.read_text().splitlines() if line.strip()]
    assert len(questions) > 150
    assert [q for q in questions if limits.asks(q)] == []


def test_extractive_follow_up_about_recency(make_assistant: Callable[..., Assistant]) -> None:
    answer = make_assistant(llm=False).ask("which of those is the most recent?",
                                           history=HISTORY)
    assert answer.answer.startswith(DATES + "\n\n")
    body = answer.answer.removeprefix(DATES)
    assert "recent" not in body.lower()  # no sentence picked for the word "recent"
    assert {c.paper_id for c in answer.citations} & {"mae", "medvit"}
    assert not answer.refused


def test_extractive_authors_question(make_assistant: Callable[..., Assistant]) -> None:
    answer = make_assistant(llm=False).ask("Who wrote the masked autoencoder paper?")
    assert answer.answer.startswith(limits.NOTE.format(labels="authors"))
    assert answer.citations[0].paper_id == "mae"


def test_only_an_ask_is_answered_with_the_note(make_assistant: Callable[..., Assistant],
                                               fake_openai: FakeOpenAI) -> None:
    for assistant in (make_assistant(llm=False), make_assistant()):
        events = list(assistant.stream("Which one is the most recent paper?"))
        done = events[-1].data
        assert done["answer"] == DATES and done["citations"] == [] and not done["refused"]
        assert events[0].data == {"sources": []}
    assert fake_openai.chat_requests == []  # nothing for a model to do


def test_llm_answer_starts_with_the_note(make_assistant: Callable[..., Assistant],
                                         fake_openai: FakeOpenAI) -> None:
    fake_openai.queue("Masked autoencoders pretrain ViTs on ImageNet [1].")
    events = list(make_assistant().stream("What is the latest way to pretrain a vision "
                                          "transformer on images?"))
    tokens = "".join(e.data["text"] for e in events if e.type == "token")
    assert tokens == events[-1].data["answer"]
    assert tokens == DATES + "\n\nMasked autoencoders pretrain ViTs on ImageNet [1]."
    prompt = fake_openai.chat_requests[0]["messages"][-1]["content"]
    assert "do not guess them" in prompt and "publication dates" in prompt


class DatedLibrary(FakeLibrary):
    META: ClassVar[dict[str, tuple[int, tuple[str, ...]]]] = {
        "mae": (2021, ("K. He", "X. Chen", "S. Xie", "Y. Li")),
        "medvit": (2022, ("A. Author",)), "wav2vec": (2019, ("S. Schneider",))}

    def search(self, query: str, k: int | None = None, *, mode: str | None = None
               ) -> SearchResponse:
        response = super().search(query, k, mode=mode)
        # Hits from a collection whose papers record years and authors.
        response.results = [h.model_copy(update={
            "year": self.META.get(h.paper_id, (None, ()))[0],
            "authors": list(self.META.get(h.paper_id, (None, ()))[1])})
            for h in response.results]
        return response


def test_recorded_fields_are_given_not_denied(settings: Settings,
                                              make_assistant: Callable[..., Any],
                                              fake_openai: FakeOpenAI) -> None:
    library = DatedLibrary(settings, ANSWER_PAPERS)
    answer = make_assistant(llm=False, library=library).ask(
        "which of those is the most recent?", history=HISTORY)
    assert "do not record" not in answer.answer
    years = [line for line in answer.answer.split("\n\n") if "was published in" in line]
    assert years and years[0].endswith("was published in 2022 [1].") \
        and answer.citations[0].paper_id == "medvit"  # newest first
    by = make_assistant(llm=False, library=library).ask("Who wrote the masked autoencoder "
                                                        "paper?")
    assert f"{ANSWER_PAPERS[0].title} is by K. He, X. Chen, S. Xie et al. [1]." in by.answer
    fake_openai.queue("MAE came out in 2021 [1].")
    make_assistant(library=library).ask("When was the masked autoencoder paper published?")
    prompt = fake_openai.chat_requests[0]["messages"][-1]["content"]
    assert "Year: 2021" in prompt and "do not guess" not in prompt


def test_counting_papers(make_assistant: Callable[..., Assistant],
                         fake_openai: FakeOpenAI) -> None:
    for assistant in (make_assistant(llm=False), make_assistant()):
        total = assistant.ask("How many papers are in the collection?")
        assert total.answer == "The collection holds 6 papers." and not total.citations
    assert fake_openai.chat_requests == []
    topic = make_assistant(llm=False).ask("how many papers are about protein sequences?")
    assert topic.answer.startswith(limits.COUNT_NOTE.format(total=6) + "\n\n")
    assert topic.citations[0].paper_id == "protein"


def test_a_collection_question_does_not_borrow_the_conversations_subject(
        make_assistant: Callable[..., Assistant], fake_openai: FakeOpenAI) -> None:
    for assistant in (make_assistant(llm=False), make_assistant()):
        answer = assistant.ask("How many papers are in the collection?", history=HISTORY)
        assert answer.answer == "The collection holds 6 papers."
        assert answer.standalone_question is None
    assert fake_openai.chat_requests == []  # not even a condense call


def test_decided_by_what_the_collection_records(tmp_path: Path) -> None:
    """The same question on two real collections: one whose papers carry years, one not."""
    from rag.library import Library
    from tests.conftest import make_papers

    plain = make_papers(6)
    dated = [p.model_copy(update={"year": 2015 + i}) for i, p in enumerate(plain)]
    answers = {}
    for name, papers in (("plain", plain), ("dated", dated)):
        s = Settings(home=tmp_path / name, embed={"provider": "fake"})  # type: ignore[arg-type]
        library = Library(s)
        library.ingest(papers)
        answers[name] = Assistant(s, library).ask(
            "Which is the most recent paper on protein language models?")
    assert answers["plain"].answer.startswith(DATES)
    assert "do not record" not in answers["dated"].answer
    assert "was published in 2020 [1]." in answers["dated"].answer  # p2 and p5: 2017, 2020
