"""One writer per collection across processes: the lock file under <home>/locks."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.errors import IngestBusy
from rag.library import Library
from rag.settings import Settings
from tests.conftest import make_papers
from tests.paperchat.test_cli import cli

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.readline()  # hold until the test says so
lock.release()
"""


@contextmanager
def held_by_another_process(home: Path, collection: str = "papers") -> Iterator[None]:
    """The collection's ingest lock, held by a separate Python process (as a CLI ingest
    running next to the server would hold it)."""
    path = home / "locks" / f"{collection}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=10)


def test_an_ingest_gives_up_cleanly_while_another_process_writes(settings: Settings) -> None:
    lib = Library(settings)
    lib.ingest(make_papers(5))
    waited: list[bool] = []
    with held_by_another_process(settings.home), pytest.raises(IngestBusy) as info:
        lib.ingest(make_papers(9), wait=0.3, on_wait=lambda: waited.append(True))
    assert "another ingest into collection 'papers' is running" in str(info.value)
    assert waited == [True]
    assert Library(settings).count() == 5  # nothing was written
    assert lib.ingest(make_papers(9)).papers == 9  # and once it is free, it works


def test_an_ingest_waits_for_the_other_process_to_finish(settings: Settings) -> None:
    lib = Library(settings)
    results: list[int] = []
    with held_by_another_process(settings.home):
        writer = threading.Thread(target=lambda: results.append(
            lib.ingest(make_papers(4), wait=30).papers))
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive() and not results  # still waiting for the lock
    writer.join(timeout=30)
    assert results == [4]


def test_threads_of_one_process_queue_instead_of_failing(settings: Settings) -> None:
    lib = Library(settings)
    reports: list[int] = []
    threads = [threading.Thread(target=lambda n=n: reports.append(
        lib.ingest(make_papers(n), wait=0).added)) for n in (3, 6, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(reports) == 3 and Library(settings).count() == 9


@pytest.mark.slow  # two CLI processes
def test_cli_ingest_says_what_is_going_on_and_exits_7(tmp_path: Path) -> None:
    home = tmp_path / "home"
    papers = tmp_path / "papers.jsonl"
    papers.write_text("".join(json.dumps(p.model_dump(mode="json")) + "\n" for p in make_papers(3)))
    with held_by_another_process(home):
        proc = cli("ingest", str(papers), "--json", home=home, check=False,
                   extra={"PAPERCHAT_INGEST_WAIT": "0.5"})
    assert proc.returncode == 7, proc.stderr
    assert "waiting for another ingest into 'papers'" in proc.stderr
    assert "another ingest into collection 'papers' is running" in proc.stderr
    assert json.loads(cli("ingest", str(papers), "--json", home=home).stdout)["papers"] == 3
