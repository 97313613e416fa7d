"""GET /v1/search, /v1/papers (paged) and /v1/papers/{paper_id}."""

from __future__ import annotations

import pytest

from rag.library import Library
from tests.server.conftest import MakeClient, assert_error


def test_search_is_the_cli_json(make_client: MakeClient, library: Library) -> None:
    r = make_client().get("/v1/search", params={"q": "protein language model", "k": 3})
    assert r.status_code == 200
    body = r.json()
    expected = library.search("protein language model", 3).model_dump(mode="json")
    assert set(body) == {"query", "results", "timings"}
    assert body["results"] == expected["results"]
    assert len(body["results"]) == 3 and "protein" in body["results"][0]["title"]


@pytest.mark.parametrize("params", [{"q": "x", "k": 0}, {"q": "x", "k": 101}, {"k": 3},
                                    {"q": ""}, {"q": "   "}, {"q": "x", "mode": "magic"}])
def test_search_rejects_bad_parameters(make_client: MakeClient, params: dict[str, object]
                                       ) -> None:
    assert_error(make_client().get("/v1/search", params=params), 422, "invalid_input")


def test_search_query_length_limit(make_client: MakeClient) -> None:
    client = make_client(server__max_question_chars=30)
    assert_error(client.get("/v1/search", params={"q": "a" * 31}), 422)
    assert client.get("/v1/search", params={"q": "a" * 30}).status_code == 200


def test_papers_pages_cover_the_collection_once(make_client: MakeClient,
                                                library: Library) -> None:
    client = make_client()
    seen: list[str] = []
    for offset in range(0, 15, 5):
        page = client.get("/v1/papers", params={"offset": offset, "limit": 5}).json()
        assert page["count"] == 12 and page["offset"] == offset and page["limit"] == 5
        seen += [p["paper_id"] for p in page["papers"]]
    assert seen == [p.id for p in library.papers()]
    assert_error(client.get("/v1/papers", params={"limit": 0}), 422)
    assert_error(client.get("/v1/papers", params={"offset": -1}), 422)


def test_paper_detail_and_unknown_paper(make_client: MakeClient, library: Library) -> None:
    client = make_client()
    paper = library.papers()[0]
    body = client.get(f"/v1/papers/{paper.id}").json()
    assert body["paper_id"] == paper.id and body["abstract"] == paper.abstract
    assert_error(client.get("/v1/papers/no-such-paper"), 404, "not_found")
