"""The extractive engine, refusal, validation and the streaming event model (no LLM)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from rag.answer import extractive, prompts
from rag.answer.service import Assistant
from rag.answer.vectors import SentenceVectors
from rag.embedders.fake import HashingEmbedder
from rag.errors import CollectionError, ConfigError, InputError
from rag.models import SearchHit
from rag.settings import Settings
from tests.rag.conftest import ANSWER_PAPERS, OUT_OF_SCOPE, FakeLibrary
from tests.utils.fake_openai import FakeOpenAI

AUDIO_Q = "What word error rate does unsupervised pre-training on raw audio reach?"
VISION_Q = "Which papers pretrain vision transformers, and on what images?"


def test_extractive_answer_is_cited_grouped_and_led(make_assistant: Callable[..., Assistant]
                                                    ) -> None:
    answer = make_assistant(llm=False).ask(VISION_Q)
    assert answer.engine == "extractive" and not answer.refused and not answer.degraded
    lead, *paragraphs = answer.answer.split("\n\n")
    n = len(answer.citations)
    assert n >= 2
    # The lead counts the cited papers and the retrieved ones shown uncited.
    related = len(answer.sources) - n
    assert lead == (f"{n} papers in the collection answer this; {related} more "
                    f"{'is' if related == 1 else 'are'} related:" if related else
                    f"{n} papers in the collection answer this:")
    # Grouped by paper: one paragraph per cited paper, numbered in order, each sentence cited.
    assert len(paragraphs) == n
    for i, para in enumerate(paragraphs, 1):
        sentences = re.findall(r"[^.!?]+\[(\d+)\][.!?]", para)
        assert sentences and set(sentences) == {str(i)}
    # Papers appear in retrieval rank order.
    ranks = {h.paper_id: h.rank for h in answer.sources}
    assert [ranks[c.paper_id] for c in answer.citations] == sorted(
        ranks[c.paper_id] for c in answer.citations)
    assert {c.paper_id for c in answer.citations} >= {"mae", "medvit"}
    # Support of a quoted sentence is its relevance to the question (here, with no calibrated
    # stage for the fake embedder, its cosine to the question), never a copy's 1.0.
    quoted = [s for s in answer.sentences if s["citations"]]
    assert quoted and all(s["support"] is not None and s["support"] < 0.99 for s in quoted)
    assert all(s["supported"] == (s["support"] >= 0.5) for s in quoted)
    # A citation's support is its best quoted sentence's.
    for c in answer.citations:
        assert c.support == max(s["support"] for s in quoted if c.n in s["citations"])


def test_extractive_is_deterministic(make_assistant: Callable[..., Assistant]) -> None:
    first = make_assistant(llm=False).ask(VISION_Q)
    second = make_assistant(llm=False).ask(VISION_Q)
    assert first.answer == second.answer
    assert [c.model_dump(mode="json") for c in first.citations] == [
        c.model_dump(mode="json") for c in second.citations]


def test_extractive_caps_sentences_and_skips_near_duplicates(settings: Settings) -> None:
    # The same abstract under another title must not be quoted twice.
    twin = ANSWER_PAPERS[0].model_copy(
        update={"id": "mae-copy", "title": "Masked autoencoders (copy)"})
    library = FakeLibrary(settings, [*ANSWER_PAPERS, twin])
    for cap in (1, 2, 4):
        s = settings.with_overrides(answer__max_sentences=cap)
        answer = Assistant(s, library).ask("masked autoencoders masking image patches ViT")
        quoted = [x["text"] for x in answer.sentences if x["citations"]]
        assert 1 <= len(quoted) <= cap
        assert len(set(quoted)) == len(quoted)


def test_refusal_out_of_scope_makes_no_llm_call(make_assistant: Callable[..., Assistant],
                                                fake_openai: FakeOpenAI) -> None:
    assistant = make_assistant()  # llm engine, pointed at the fake server
    answer = assistant.ask(OUT_OF_SCOPE)
    assert answer.refused and answer.engine == "llm"
    assert answer.answer == prompts.REFUSAL_TEXT
    assert answer.citations == [] and answer.sources == []
    assert fake_openai.requests == []
    events = list(assistant.stream(OUT_OF_SCOPE))
    assert [e.type for e in events] == ["sources", "token", "citations", "done"]
    assert events[0].data == {"sources": []} and events[-1].data["refused"] is True
    assert fake_openai.requests == []


def test_answer_json_shape(make_assistant: Callable[..., Assistant]) -> None:
    data = make_assistant(llm=False).ask(AUDIO_Q).model_dump(mode="json")
    assert set(data) == {"question", "answer", "citations", "refused", "engine", "degraded",
                         "usage", "timings", "unsupported"}
    assert set(data["citations"][0]) == {"n", "paper_id", "title", "snippet", "support"}
    assert data["usage"] == {}  # no model ran: the TUI shows no token count (issue 14)
    assert {"retrieval_ms", "generation_ms", "total_ms"} <= set(data["timings"])
    assert "2.43 percent word error rate" in data["answer"]


def test_stream_event_order_and_text(make_assistant: Callable[..., Assistant]) -> None:
    events = list(make_assistant(llm=False).stream(VISION_Q))
    types = [e.type for e in events]
    assert types[0] == "sources" and types[-2:] == ["citations", "done"]
    assert set(types[1:-2]) == {"token"} and len(types) > 4  # lead + one per sentence
    text = "".join(e.data["text"] for e in events if e.type == "token")
    done = events[-1].model_dump(mode="json")
    assert done["type"] == "done" and done["answer"] == text
    sources = events[0].data["sources"]
    assert [s["n"] for s in sources] == list(range(1, len(sources) + 1))
    assert set(sources[0]) == {"n", "paper_id", "title", "snippet", "score"}
    assert events[-2].data["citations"] == done["citations"]


def test_empty_library_asks_for_ingest(settings: Settings) -> None:
    assistant = Assistant(settings, FakeLibrary(settings, []))
    with pytest.raises(CollectionError, match="paperchat ingest"):
        assistant.ask("anything about transformers?")
    events = list(assistant.stream("anything about transformers?"))
    assert [e.type for e in events] == ["error"]
    assert events[0].data["code"] == "collection_error"


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"question": "   "}, InputError),
    ({"question": "ok?", "k": 0}, InputError),
    ({"question": "ok?", "engine": "gpt"}, InputError),
    ({"question": "ok?", "engine": "llm"}, ConfigError),  # no endpoint configured
    ({"question": "ok?", "history": [{"role": "system", "content": "x"}]}, InputError),
])
def test_invalid_requests(make_assistant: Callable[..., Assistant], kwargs: dict,
                          error: type[Exception]) -> None:
    assistant = make_assistant(llm=False)
    question = kwargs.pop("question")
    with pytest.raises(error):
        assistant.ask(question, **kwargs)


def test_resolve_engine(make_assistant: Callable[..., Assistant]) -> None:
    assert make_assistant(llm=False).resolve_engine() == "extractive"
    assert make_assistant(llm=True).resolve_engine() == "llm"
    assert make_assistant(llm=True).resolve_engine("extractive") == "extractive"
    assert make_assistant(llm=True, answer__engine="extractive").resolve_engine() == \
        "extractive"


def test_extractive_follow_up_resolves_ordinal_reference(
        make_assistant: Callable[..., Assistant], answer_library: FakeLibrary) -> None:
    assistant = make_assistant(llm=False)
    session = assistant.sessions.create()
    first = assistant.ask(VISION_Q, session_id=session.id)
    second_title = first.citations[1].title
    follow = assistant.ask("what about the second one?", session_id=session.id)
    assert follow.standalone_question == f"what about {second_title}?"
    assert answer_library.queries[-1] == follow.standalone_question
    assert follow.citations[0].title == second_title
    stored = assistant.sessions.get(session.id)
    assert [m.role for m in stored.messages] == ["user", "assistant", "user", "assistant"]
    assert stored.messages[1].citations[1]["title"] == second_title
    assert stored.info.title == VISION_Q


def test_extractive_follow_up_carries_the_subject(make_assistant: Callable[..., Assistant],
                                                  answer_library: FakeLibrary) -> None:
    history = [{"role": "user", "content": "Which papers do speech recognition from raw "
                "audio?"},
               {"role": "assistant", "content": "One paper does [1]."}]
    answer = make_assistant(llm=False).ask("what error rate did they reach?", history=history)
    query = answer_library.queries[-1]
    assert query.startswith("what error rate did they reach?")
    assert "speech" in query and "audio" in query
    assert answer.citations[0].paper_id == "wav2vec"


def test_every_paper_given_is_quoted_before_a_second_sentence_of_one(settings: Settings
                                                                     ) -> None:
    # Both papers are ones the relevance stage judged to answer: a two-sentence answer
    # quotes each once rather than two sentences of the better-ranked one.
    papers = {p.id: p for p in ANSWER_PAPERS}
    hits = [SearchHit(rank=r, paper_id=i, title=papers[i].title, score=1.0, snippet="",
                      abstract=papers[i].abstract) for r, i in enumerate(["mae", "medvit"], 1)]
    vectors = SentenceVectors(HashingEmbedder(settings.embed.dimensions))
    question = "masked autoencoders vision transformer image patches"
    chosen = extractive.select(question, hits, vectors, 2)
    assert sorted(c.source for c in chosen) == [1, 2]
    # With room for more, the budget goes by score again (a second sentence of the first).
    assert [c.source for c in extractive.select(question, hits, vectors, 3)].count(1) == 2
