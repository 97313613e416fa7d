"""kill -9 of `paperchat serve` during an HTTP ingest (issue 7, faults under load).

After the restart the index is consistent (the counts agree, no paper is half-written, the
previous papers are all there) and re-sending the same upload completes the job.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.library import Library
from rag.settings import Settings
from tests.conftest import make_papers
from tests.reliability.procs import ServeProcess, inspect_collection, serve_env

pytestmark = pytest.mark.slow  # a real server killed and restarted


def _all_paper_ids(url: str) -> list[str]:
    ids: list[str] = []
    while True:
        page = httpx.get(f"{url}/v1/papers", params={"offset": len(ids), "limit": 500},
                         timeout=30).json()
        ids += [p["paper_id"] for p in page["papers"]]
        if len(ids) >= page["count"] or not page["papers"]:
            return ids


def test_kill9_serve_during_http_ingest_then_rerun(tmp_path: Path) -> None:
    home = tmp_path / "home"
    baseline = make_papers(40)
    Library(Settings(home=home, embed={"provider": "fake"})).ingest(  # type: ignore[arg-type]
        baseline)
    # Titles must differ too: the parser merges records with the same normalised title.
    upload = [(p.id, p.title, p.abstract) for p in baseline] + [
        (p.id, f"Newer {p.title}", p.abstract) for p in make_papers(2000, prefix="new")]
    body = [{"id": i, "title": t, "abstract": a} for i, t, a in upload]
    source = {i: a for i, _, a in upload}
    env = serve_env(home)

    serve = ServeProcess(env, tmp_path / "serve.log").start()
    sent: dict[str, Any] = {}

    def post() -> None:
        try:
            sent["response"] = httpx.post(f"{serve.url}/v1/ingest", json=body, timeout=120)
        except httpx.HTTPError as e:
            sent["error"] = e

    sender = threading.Thread(target=post, daemon=True)
    sender.start()
    seen, deadline = 40, time.monotonic() + 60
    try:
        while seen <= 40 and time.monotonic() < deadline and sender.is_alive():
            seen = httpx.get(f"{serve.url}/readyz", timeout=10).json()["papers"]
            time.sleep(0.02)
    finally:
        serve.kill9()  # SIGKILL as soon as some of the new papers are written
    sender.join(timeout=30)
    assert "error" in sent, f"the ingest finished before the kill: {sent}"
    killed = inspect_collection(home)
    assert killed["write_in_progress"], "the kill did not land during the write"
    present = set(killed["papers"])
    assert 40 < len(present) < 2040
    assert {p.id for p in baseline} <= present  # the previous index is all there
    assert killed["incomplete"] == []  # papers are written whole: none is half-written
    assert all(killed["abstracts"][pid] == source[pid] for pid in present)

    serve = ServeProcess(env, tmp_path / "serve.log").start()
    try:
        ready = httpx.get(f"{serve.url}/readyz", timeout=30).json()
        listed = _all_paper_ids(serve.url)
        hit = httpx.get(f"{serve.url}/v1/search", timeout=30,
                        params={"q": "protein language model", "k": 5}).json()["results"]
        rerun = httpx.post(f"{serve.url}/v1/ingest", json=body, timeout=120)
        final_ready = httpx.get(f"{serve.url}/readyz", timeout=30).json()
        final_listed = _all_paper_ids(serve.url)
    finally:
        serve.stop()
    # After the restart the counts agree and the survivors are searchable.
    assert ready["ready"] and ready["papers"] == len(present)
    assert sorted(listed) == sorted(present)
    assert hit and all(h["paper_id"] in present for h in hit)
    # Re-sending the upload completes the job, writing only what was missing.
    assert rerun.status_code == 200, rerun.text
    report = rerun.json()
    assert (report["papers"], report["added"], report["unchanged"]) == (
        2040, 2040 - len(present), len(present))
    assert final_ready["papers"] == 2040 and len(set(final_listed)) == 2040
    final = inspect_collection(home, keyword=True)
    assert not final["write_in_progress"] and final["incomplete"] == []
    assert final["keyword"] == final["chunks"]  # BM25 and Chroma hold the same chunks
    assert final["abstracts"] == source
