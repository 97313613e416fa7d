"""The HTTP ingest never reads a server-side path (issue 7, hostile input).

A JSON body or a multipart filename naming a file on the server (a real one with a unique
word in it, /etc/passwd, ../../ traversals, file:// URLs) is never opened: an audit hook
records every file the process opens while the requests run, and the unique word never
reaches the index or a response.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.library import Library
from rag.settings import Settings
from server.app import create_app

SECRET_WORD = "xylophonequokka"
_opened: list[str] | None = None
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event in ("open", "os.listdir", "os.scandir"):
        _opened.append(str(args[0]))


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Paths opened by this process (any thread) during the test."""
    global _opened, _hooked
    if not _hooked:  # an audit hook cannot be removed; it records only while a test asks
        sys.addaudithook(_audit)
        _hooked = True
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def test_ingest_reads_only_the_request(settings: Settings, library: Library, tmp_path: Path,
                                       opened: list[str]) -> None:
    target = tmp_path / "server-side.jsonl"
    target.write_text(json.dumps({"id": "sentinel", "title": "Sentinel zebra paper",
                                  "abstract": f"The {SECRET_WORD} lives on the server."}) + "\n")
    depth = "../" * 12
    relative = depth + str(target).lstrip("/")
    good = json.dumps({"id": "up1", "title": "Uploaded bytes only",
                       "abstract": "Only the uploaded bytes are indexed."}).encode() + b"\n"
    responses = []
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        opened.clear()  # start-up (models, index) is not what is under test
        for name, data in [(str(target), good), (relative, b""), (relative, b"{broken"),
                           ("/etc/passwd", b"{broken"), ("../../../../etc/passwd", b""),
                           ("file://" + str(target), good), (str(tmp_path), good)]:
            responses.append(client.post("/v1/ingest", files={"file": (name, data)}))
            responses.append(client.post("/v1/ingest", params={"format": "jsonl"},
                                         files={"file": (name, data)}))
        for body in [{"path": str(target)}, {"file": str(target)}, {"papers": str(target)},
                     [str(target)], {"papers": [{"path": str(target)}]}, {"url": str(target)},
                     [{"title": "Link to a file", "abstract": "A paper with a file URL.",
                       "url": "file://" + str(target), "id": "linky"}],
                     [{"title": relative, "abstract": "/etc/passwd", "id": relative}]]:
            responses.append(client.post("/v1/ingest", json=body))
        for fmt in ("../../etc/passwd", str(target)):
            responses.append(client.post("/v1/ingest", params={"format": fmt},
                                         files={"file": ("x.jsonl", good)}))
        for path in ("/v1/papers/..%2F..%2Fetc%2Fpasswd", f"/v1/papers/{relative}",
                     "/v1/sessions/..%2F..%2Fetc%2Fpasswd", "/v1/papers/%2Fetc%2Fpasswd"):
            responses.append(client.get(path))
        search = client.get("/v1/search", params={"q": SECRET_WORD, "k": 20})
        papers = client.get("/v1/papers", params={"limit": 500}).json()["papers"]
        linky = client.get("/v1/papers/linky")
        during = list(opened)

    # Nothing named in a request was opened, listed or read.
    touched = [p for p in during if "server-side" in p or "passwd" in p
               or p.rstrip("/") == str(tmp_path)]
    assert touched == [], touched
    for r in responses:
        assert r.status_code < 500, r.text
        assert SECRET_WORD not in r.text and "root:" not in r.text
        assert str(tmp_path) not in r.text or r.status_code == 200, r.text  # no path echoed
    assert SECRET_WORD not in json.dumps(search.json()["results"])  # the query is echoed
    assert "sentinel" not in {p["paper_id"] for p in papers}
    assert "Sentinel zebra paper" not in {p["title"] for p in papers}
    # The URL is kept as text; nothing behind it was fetched.
    assert linky.json()["url"] == "file://" + str(target)
    assert linky.json()["abstract"] == "A paper with a file URL."


def test_error_messages_name_only_the_base_name(settings: Settings, library: Library) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.post("/v1/ingest", files={"file": ("/srv/secret/dir/../../c.jsonl",
                                                      b'{"title": "broken", \n')})
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert message.startswith("c.jsonl:") and "/srv" not in message and ".." not in message
