"""One writer per collection: the database lease (several machines) on SQLite and a real
PostgreSQL, and the lock file (one machine). A killed holder's lease expires; a live one's
heartbeat keeps it; a holder whose lease was taken over is told to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rag.db import Database
from rag.db.writers import DatabaseWriterLock, FileWriterLock
from rag.errors import IngestBusy
from rag.indexer import BATCH_PAPERS
from rag.library import Library
from rag.settings import Settings
from tests.conftest import make_papers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def test_a_second_writer_is_refused_or_waits_until_the_first_has_finished(
        db: Database) -> None:
    first, second = DatabaseWriterLock(db, ttl=5), DatabaseWriterLock(db, ttl=5)
    with first.hold("papers", wait=0) as lease:
        with pytest.raises(IngestBusy, match=r"another ingest into collection 'papers'.*"
                           + lease.holder.split(":")[1]), second.hold("papers", wait=0):
            pass
        with second.hold("other", wait=0):  # another collection is not blocked
            pass
    waits: list[float] = []
    got = threading.Event()

    def wait_for_it() -> None:
        with second.hold("papers", wait=10, on_wait=lambda: waits.append(time.monotonic())):
            got.set()

    with first.hold("papers", wait=0):
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.6)
        assert not got.is_set() and len(waits) == 1  # told once that it waits
    waiter.join(10)
    assert got.is_set()


def test_hold_is_reentrant_within_a_thread(db: Database, tmp_path: Path) -> None:
    for lock in (DatabaseWriterLock(db, ttl=5), FileWriterLock(tmp_path)):
        with lock.hold("papers", wait=0) as outer, lock.hold("papers", wait=0) as inner:
            assert inner is outer
        with lock.hold("papers", wait=0):  # released by the outermost exit
            pass


@pytest.mark.slow  # holds a lease ~4 s, per database
def test_the_heartbeat_keeps_a_long_write_s_lease(db: Database) -> None:
    lock, other = DatabaseWriterLock(db, ttl=1.5), DatabaseWriterLock(db, ttl=1.5)
    with lock.hold("papers", wait=0) as lease:
        time.sleep(4)  # well past the ttl: renewed every 0.5 s
        assert not other.try_acquire("papers", "someone-else")
        lease.check()


def test_a_writer_whose_lease_was_taken_over_is_told_to_stop(db: Database) -> None:
    lock = DatabaseWriterLock(db, ttl=1.5)
    with lock.hold("papers", wait=0) as lease:
        with db.begin() as conn:  # as if it had been paused past its expiry
            conn.execute(sa.text("UPDATE ingest_leases SET holder = 'another-replica'"))
        deadline = time.monotonic() + 5
        while not lease.lost and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(IngestBusy, match="lost its lease"):
            lease.check()
    assert lock.current("papers") is not None  # the other writer's lease was not released


HOLD_AND_SLEEP = """
import sys, time
from rag.db import Database
from rag.db.writers import DatabaseWriterLock
lock = DatabaseWriterLock(Database(sys.argv[1]), ttl=float(sys.argv[2]))
with lock.hold("papers", wait=0):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_writer_s_lease_expires_and_the_next_writer_takes_it(db: Database,
                                                                      database_url: str) -> None:
    ttl = 2.0
    proc = subprocess.Popen([sys.executable, "-c", HOLD_AND_SLEEP, database_url, str(ttl)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        lock = DatabaseWriterLock(db, ttl=ttl)
        with pytest.raises(IngestBusy, match="lease held by"), lock.hold("papers", wait=0):
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        t0 = time.monotonic()
        with lock.hold("papers", wait=3 * ttl):
            waited = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert waited <= ttl + 1.5  # taken over once expired (not at once: it was renewed)


def test_a_library_with_a_database_ingests_under_its_lease(database_url: str,
                                                           settings: Settings) -> None:
    library = Library(settings.with_overrides(database_url=database_url, ingest_lease=1.5))
    assert isinstance(library.writer_lock, DatabaseWriterLock)
    other = DatabaseWriterLock(Database(database_url), ttl=5)
    with other.hold("papers", wait=0), pytest.raises(IngestBusy, match="lease held by"):
        library.ingest(make_papers(3), wait=0)
    assert library.ingest(make_papers(3)).papers == 3
    assert other.current("papers") is None  # released when the ingest finished


def test_an_ingest_that_lost_its_lease_stops_between_batches_and_a_rerun_completes(
        database_url: str, settings: Settings) -> None:
    library = Library(settings.with_overrides(database_url=database_url, ingest_lease=1.5))
    db = Database(database_url)
    calls: list[int] = []

    def taken_over(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 1:  # another writer takes the lease over (this one was paused)
            with db.begin() as conn:
                conn.execute(sa.text("UPDATE ingest_leases SET holder = 'another-replica'"))
            time.sleep(1.2)  # the heartbeat (every 0.5 s) finds out

    papers = make_papers(3 * BATCH_PAPERS)
    with pytest.raises(IngestBusy, match="lost its lease"):
        library.ingest(papers, progress=taken_over)
    assert calls[-1] < len(papers)  # stopped before writing everything
    with db.begin() as conn:
        conn.execute(sa.text("DELETE FROM ingest_leases"))  # the other writer finished
    assert library.ingest(papers).papers == len(papers)
    assert len(library.papers()) == len(papers)
    db.dispose()
