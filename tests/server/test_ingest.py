"""POST /v1/ingest: uploads and JSON papers, limits, malformed files, admin rules."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ingest.bundled import bundled_collection_path
from rag.settings import Settings
from tests.server.conftest import ADMIN_KEY, API_KEY, MakeClient, assert_error

NEW = [{"id": "cats1", "title": "Feline vocal communication",
        "abstract": "We record purring cats and classify their meows with a small network."},
       {"title": "Canine agility training", "abstract": "Dogs learn agility courses faster "
        "with clicker training than with verbal praise.", "year": 2021}]


def _jsonl(papers: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(p) + "\n" for p in papers).encode()


def test_json_papers_are_indexed_and_searchable(make_client: MakeClient) -> None:
    client = make_client()
    r = client.post("/v1/ingest", json=NEW)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["added"], body["papers"], body["updated"], body["removed"]) == (2, 14, 0, 0)
    hits = client.get("/v1/search", params={"q": "purring cats meows", "k": 1}).json()
    assert hits["results"][0]["paper_id"] == "cats1"
    again = client.post("/v1/ingest", json={"papers": NEW}).json()
    assert (again["added"], again["unchanged"]) == (0, 2)


def test_multipart_upload_with_prune(make_client: MakeClient) -> None:
    client = make_client()
    r = client.post("/v1/ingest", params={"prune": "true", "confirm": "true"},
                    files={"file": ("new.jsonl", _jsonl(NEW), "application/x-ndjson")})
    assert r.status_code == 200, r.text
    assert (r.json()["added"], r.json()["removed"], r.json()["papers"]) == (2, 12, 2)
    assert client.get("/v1/papers").json()["count"] == 2


def test_upload_never_reads_a_server_path(make_client: MakeClient) -> None:
    """A file name that is a real path on the server: only the uploaded bytes count."""
    client = make_client()
    name = str(bundled_collection_path())
    r = client.post("/v1/ingest", files={"file": (name, _jsonl(NEW[:1]))})
    assert r.status_code == 200 and r.json()["added"] == 1  # not the 119 bundled papers
    bad = client.post("/v1/ingest", files={"file": (name, b'{"title": 1}\n')})
    assert name not in bad.text


def test_malformed_upload_is_422_naming_the_line(make_client: MakeClient) -> None:
    client = make_client()
    body = _jsonl(NEW) + b'{"title": "broken", "abstract": \n'
    error = assert_error(client.post("/v1/ingest", files={"file": ("c.jsonl", body)}),
                         422, "parse_error")
    assert error["line"] == 3 and "c.jsonl:3" in error["message"]
    latin1 = "caf\xe9 paper".encode("latin-1")
    error = assert_error(client.post("/v1/ingest", files={"file": ("x.txt", latin1)}), 422)
    assert "UTF-8" in error["message"] and error["line"] == 1
    missing = assert_error(client.post("/v1/ingest", json=[{"title": "no abstract"}]), 422)
    assert missing["line"] == 1
    assert client.get("/v1/papers").json()["count"] == 12  # nothing half-written


def test_wrong_content_type_and_missing_file(make_client: MakeClient) -> None:
    client = make_client()
    assert_error(client.post("/v1/ingest", content=b"hello",
                             headers={"content-type": "text/plain"}), 415)
    assert_error(client.post("/v1/ingest", files={"other": ("a.jsonl", b"{}")}), 422)


def test_body_over_the_limit_is_413(make_client: MakeClient) -> None:
    client = make_client(server__max_upload_bytes=300)
    big = _jsonl(NEW * 3)
    assert len(big) > 300
    assert_error(client.post("/v1/ingest", files={"file": ("c.jsonl", big)}), 413,
                 "payload_too_large")

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b"["
        for _ in range(10):
            yield json.dumps(NEW[0]).encode() + b","
        yield b"{}]"

    r = client.post("/v1/ingest", content=chunked(), headers={"content-type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    assert client.get("/v1/papers").json()["count"] == 12
    assert client.post("/v1/ingest", json=NEW[:1]).status_code == 200  # under the limit


def test_admin_key_guards_ingest(make_client: MakeClient) -> None:
    client = make_client(api_key=API_KEY, admin_key=ADMIN_KEY)
    assert_error(client.post("/v1/ingest", json=NEW), 401, "unauthorized")
    for key in (API_KEY, "wrong", ADMIN_KEY + "x"):
        r = client.post("/v1/ingest", json=NEW, headers={"Authorization": f"Bearer {key}"})
        assert_error(r, 401)
        assert ADMIN_KEY not in r.text and API_KEY not in r.text
    ok = client.post("/v1/ingest", json=NEW, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert ok.status_code == 200 and ok.json()["added"] == 2


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.7", "::"])
def test_no_admin_key_means_loopback_only(make_client: MakeClient, host: str) -> None:
    assert_error(make_client(server__host=host).post("/v1/ingest", json=NEW), 403,
                 "forbidden")


def test_no_admin_key_on_loopback_still_needs_the_api_key(make_client: MakeClient) -> None:
    client = make_client(api_key=API_KEY)
    assert_error(client.post("/v1/ingest", json=NEW), 401)
    r = client.post("/v1/ingest", json=NEW, headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 200


def test_prune_to_papers_without_indexable_words(make_client: MakeClient) -> None:
    """Found by schemathesis: the keyword index once crashed on a word-less collection."""
    client = make_client()
    r = client.post("/v1/ingest", params={"prune": "true", "confirm": "true"},
                    json=[{"title": "0", "abstract": "0"}, {"title": "a", "abstract": "!"}])
    assert r.status_code == 200, r.text
    assert client.get("/v1/search", params={"q": "graph"}).status_code == 200


def test_ingest_while_another_process_writes_is_409_and_writes_nothing(
        make_client: MakeClient, settings: Settings) -> None:
    from tests.rag.test_ingest_lock import held_by_another_process

    client = make_client()
    with held_by_another_process(settings.home):
        error = assert_error(client.post("/v1/ingest", json=NEW), 409, "ingest_busy")
    assert "another ingest" in error["message"]
    assert client.get("/readyz").json()["papers"] == 12
    assert client.post("/v1/ingest", json=NEW).json()["added"] == 2


def test_a_prune_that_would_empty_the_collection_needs_confirm(make_client: MakeClient) -> None:
    client = make_client()
    r = client.post("/v1/ingest", params={"prune": "true"}, json=NEW[:1])
    error = assert_error(r, 409, "prune_unconfirmed")
    assert (error["would_remove"], error["papers"]) == (12, 12)
    assert "12 of the collection's 12 papers" in error["message"]
    assert "confirm=true" in error["message"]
    assert client.get("/v1/papers").json()["count"] == 12  # nothing written, not even NEW
    ok = client.post("/v1/ingest", params={"prune": "true", "confirm": "true"}, json=NEW[:1])
    assert ok.status_code == 200 and (ok.json()["removed"], ok.json()["papers"]) == (12, 1)


def test_a_small_prune_needs_no_confirm(make_client: MakeClient) -> None:
    """Removing at most server.prune_max_share (20%) of the papers goes through."""
    client = make_client()
    kept = client.get("/v1/papers", params={"limit": 500}).json()["papers"]
    papers = [client.get(f"/v1/papers/{p['paper_id']}").json() for p in kept[:10]]
    body = [{"id": p["paper_id"], "title": p["title"], "abstract": p["abstract"]}
            for p in papers]
    r = client.post("/v1/ingest", params={"prune": "true"}, json=body)  # 2 of 12 go
    assert r.status_code == 200, r.text
    assert (r.json()["removed"], r.json()["papers"]) == (2, 10)
    strict = make_client(server__prune_max_share=0.0)
    assert_error(strict.post("/v1/ingest", params={"prune": "true"}, json=body[:9]), 409)


def test_unknown_or_inapplicable_parameters_are_400(make_client: MakeClient) -> None:
    client = make_client()
    error = assert_error(client.post("/v1/ingest", params={"purne": "true"}, json=NEW), 400,
                         "invalid_parameter")
    assert "'purne'" in error["message"]
    error = assert_error(client.post("/v1/ingest", params={"format": "csv"}, json=NEW), 400,
                         "invalid_parameter")
    assert "format" in error["message"]
    assert client.get("/v1/papers").json()["count"] == 12
    assert client.post("/v1/ingest", params={"format": "json"}, json=NEW).status_code == 200


@pytest.mark.parametrize(("paper", "field"), [
    ({"doi": 0}, "doi"), ({"year": "2021"}, "year"), ({"year": True}, "year"),
    ({"id": 7}, "id"), ({"authors": [1, 2]}, "authors"), ({"title": 5}, "title")])
def test_json_papers_with_wrongly_typed_fields_are_refused(make_client: MakeClient,
                                                           paper: dict[str, object],
                                                           field: str) -> None:
    client = make_client()
    body = [NEW[0], {**NEW[1], **paper}]
    error = assert_error(client.post("/v1/ingest", json=body), 422, "parse_error")
    assert f"paper 2: {field}" in error["message"]
    assert client.get("/v1/papers").json()["count"] == 12  # validated before writing
    aliased = {"title": "Aliased abstract", "text": "An abstract sent as text.", "venue": "x"}
    assert client.post("/v1/ingest", json={"papers": [aliased]}).json()["added"] == 1
