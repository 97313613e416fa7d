"""The wire shapes of the domain models, pinned: what --json, the API and SSE carry.

The expected dicts are the output of the hand-written `to_json` methods these models
replaced (captured before the change), so a field added, dropped, renamed or rounded
differently fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from rag.answer.events import (
    CitationsEvent,
    DoneEvent,
    ErrorEvent,
    Source,
    SourcesEvent,
    TokenEvent,
    parse_event,
)
from rag.answer.models import Answer, Citation
from rag.models import IngestReport, Paper, SearchHit, SearchResponse
from rag.sessions import Message, Session, SessionInfo

HIT = SearchHit(rank=1, paper_id="mae", title="Masked Autoencoders", score=0.123456789,
                snippet="We mask…", abstract="full", dense_score=0.5, bm25_score=3.0)
HIT_JSON = {"rank": 1, "paper_id": "mae", "title": "Masked Autoencoders", "score": 0.123457,
            "snippet": "We mask…"}
CITATION = Citation(n=1, paper_id="mae", title="Masked Autoencoders", snippet="We mask…",
                    support=0.876543)
CITATION_JSON = {"n": 1, "paper_id": "mae", "title": "Masked Autoencoders",
                 "snippet": "We mask…", "support": 0.8765}
ANSWER = Answer(
    question="Q?", answer="A [1]. B.", citations=[CITATION],
    usage={"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    timings={"total_ms": 5.4321},
    sentences=[{"text": "A [1].", "citations": [1], "support": 0.9, "supported": True},
               {"text": "B.", "citations": [], "support": None, "supported": False}],
    sources=[HIT], standalone_question="QQ")
ANSWER_JSON = {"question": "Q?", "answer": "A [1]. B.", "citations": [CITATION_JSON],
               "refused": False, "engine": "extractive", "degraded": False,
               "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
               "timings": {"total_ms": 5.43}, "unsupported": ["B."]}


def dump(model: Any) -> Any:
    """The JSON a client receives (through json, as the CLI and the server write it)."""
    return json.loads(json.dumps(model.model_dump(mode="json"), ensure_ascii=False))


def test_search_shapes() -> None:
    assert dump(HIT) == HIT_JSON
    response = SearchResponse(query="masked", results=[HIT],
                              timings={"total_ms": 12.3456, "dense_ms": 1.0},
                              top_cosine=0.4, top_bm25=3.0, term_df={"mask": 2})
    assert dump(response) == {"query": "masked", "results": [HIT_JSON],
                              "timings": {"total_ms": 12.35, "dense_ms": 1.0}}


def test_a_reranked_hit_carries_its_relevance() -> None:
    reranked = HIT.model_copy(update={"relevance": 0.912345})
    assert dump(reranked) == {**HIT_JSON, "relevance": 0.9123}
    assert "relevance" not in dump(HIT)


def test_ingest_report_shape() -> None:
    report = IngestReport(collection="default", papers=119, added=119, chunks=130,
                          seconds=1.23456, duplicates=2, warnings=["w"])
    assert dump(report) == {"collection": "default", "papers": 119, "added": 119,
                            "updated": 0, "unchanged": 0, "removed": 0, "backfilled": 0,
                            "chunks": 130,
                            "seconds": 1.235, "duplicates": 2, "warnings": ["w"]}


def test_citation_and_answer_shapes() -> None:
    assert dump(CITATION) == CITATION_JSON
    assert dump(Citation(n=2, paper_id="b", title="B", snippet="s")) == {
        "n": 2, "paper_id": "b", "title": "B", "snippet": "s", "support": None}
    assert dump(ANSWER) == ANSWER_JSON
    assert ANSWER.unsupported == ["B."]
    flagged = Answer(question="Q?", answer="x", engine="llm", degraded=True,
                     notice="the LLM failed", session_id="abc")
    assert dump(flagged) == {"question": "Q?", "answer": "x", "citations": [],
                             "refused": False, "engine": "llm", "degraded": True, "usage": {},
                             "timings": {}, "unsupported": [], "notice": "the LLM failed",
                             "session_id": "abc"}


def test_event_shapes_and_parse_back() -> None:
    events = [
        SourcesEvent(sources=[Source.of(1, HIT)]),
        TokenEvent(text="A [1]."),
        CitationsEvent(citations=[CITATION]),
        DoneEvent.of(ANSWER),
        ErrorEvent(code="llm_unavailable", message="down"),
    ]
    assert [dump(e) for e in events] == [
        {"type": "sources", "sources": [{"n": 1, "paper_id": "mae",
                                         "title": "Masked Autoencoders",
                                         "snippet": "We mask…", "score": 0.123457}]},
        {"type": "token", "text": "A [1]."},
        {"type": "citations", "citations": [CITATION_JSON]},
        {"type": "done", **ANSWER_JSON},
        {"type": "error", "code": "llm_unavailable", "message": "down"},
    ]
    assert events[3].data == ANSWER_JSON  # the payload without its type
    for event in events:  # what the TUI's HTTP client does with each SSE data field
        again = parse_event(dump(event))
        assert type(again) is type(event) and dump(again) == dump(event)
    with pytest.raises(ValidationError):
        parse_event({"type": "tokens", "text": "x"})
    with pytest.raises(ValidationError):
        parse_event({"type": "token"})


def test_session_shapes() -> None:
    info = SessionInfo(id="s1", title="T", created_at="2024-01-01T00:00:00+00:00",
                       updated_at="2024-01-02T00:00:00+00:00", message_count=2)
    info_json = {"id": "s1", "title": "T", "created_at": "2024-01-01T00:00:00+00:00",
                 "updated_at": "2024-01-02T00:00:00+00:00", "message_count": 2}
    assert dump(info) == info_json
    session = Session(**dict(info), messages=[
        Message(role="user", content="Q?", created_at="2024-01-01T00:00:01+00:00"),
        Message(role="assistant", content="A [1].", citations=[CITATION_JSON],
                created_at="2024-01-01T00:00:02+00:00")])
    session_json = {**info_json, "messages": [
        {"role": "user", "content": "Q?", "citations": [],
         "created_at": "2024-01-01T00:00:01+00:00"},
        {"role": "assistant", "content": "A [1].", "citations": [CITATION_JSON],
         "created_at": "2024-01-01T00:00:02+00:00"}]}
    assert dump(session) == session_json
    assert dump(session.info) == info_json
    assert dump(Session.model_validate(session_json)) == session_json
    assert session.history() == [
        {"role": "user", "content": "Q?", "citations": []},
        {"role": "assistant", "content": "A [1].", "citations": [CITATION_JSON]}]


def test_paper_shape_round_trips() -> None:
    paper = Paper(id="mae", title="Masked", abstract="Abs", authors=("K He",), year=2021,
                  url="http://x", doi="10.1/x", categories=("cs.CV",))
    assert dump(paper) == {"id": "mae", "title": "Masked", "abstract": "Abs",
                           "authors": ["K He"], "year": 2021, "url": "http://x",
                           "doi": "10.1/x", "categories": ["cs.CV"]}
    again = Paper.model_validate_json(json.dumps(dump(paper)))
    assert again == paper and again.content_hash() == paper.content_hash()
    assert hash(again) == hash(paper)  # frozen: usable as a key
    with pytest.raises(ValidationError):
        paper.title = "changed"  # type: ignore[misc]


def test_models_round_trip_through_their_json() -> None:
    """A client that reads a shape back (the TUI over HTTP) gets the same record."""
    for model in (HIT, CITATION, ANSWER):
        again = type(model).model_validate(dump(model))
        assert dump(again) == dump(model)
    assert Answer.model_validate(ANSWER_JSON).unsupported == ["B."]
