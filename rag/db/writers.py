"""One writer per collection: the lock an ingest holds while it writes.

`WriterLock` is the seam the Library's ingest uses. Two implementations:
- `FileWriterLock` (the embedded default): `<home>/locks/<collection>.lock`, visible to the
  processes of one machine; the OS releases it when its process dies.
- `DatabaseWriterLock` (PAPERCHAT_DATABASE_URL set): a lease row in the shared database,
  visible to every replica on every machine. The holder's heartbeat pushes its expiry
  forward every ttl/3 seconds; a writer killed with -9 (or cut off from the database)
  stops renewing it, and after `ttl` seconds the next ingest takes it over. Expiry is
  reckoned on the database's clock, so machines' clocks need not agree. A holder that finds
  its lease taken (it was paused or partitioned past the expiry) is told through
  `Lease.check()`, which the ingest calls between batches, and stops before writing more.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa

from rag.db import Database
from rag.db.schema import ingest_leases as L
from rag.errors import IngestBusy, PaperchatError

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger("paperchat.writers")
OnWait = Callable[[], None]


class Lease:
    """What a writer holds; `check()` raises IngestBusy once it is no longer the holder."""

    def __init__(self, collection: str, holder: str) -> None:
        self.collection = collection
        self.holder = holder
        self.lost = False

    def check(self) -> None:
        if self.lost:
            raise IngestBusy(
                f"this ingest lost its lease on collection '{self.collection}' (it could not "
                "renew it in time, and another writer may have taken over); it stopped. Run "
                "it again: it completes what is missing")


class WriterLock(Protocol):
    """Held by an ingest while it writes a collection."""

    def hold(self, collection: str, *, wait: float, on_wait: OnWait | None = None
             ) -> AbstractContextManager[Lease]:
        """Wait up to `wait` seconds (calling `on_wait` once if it has to wait), then hold
        the collection's write lock for the `with` block; IngestBusy if it stays taken.
        Re-entrant within a thread."""
        ...


def holder_name() -> str:
    """host:pid:random, unique per process and start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _busy(collection: str, where: str) -> IngestBusy:
    return IngestBusy(f"another ingest into collection '{collection}' is running ({where}); "
                      "nothing was written. Try again when it has finished")


class _Reentrant:
    """Per-thread re-entrancy shared by both locks: the outermost `hold` acquires."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, int], tuple[int, Lease]] = {}
        self._mutex = threading.Lock()

    @contextmanager
    def hold(self, collection: str, *, wait: float, on_wait: OnWait | None = None
             ) -> Iterator[Lease]:
        key = (collection, threading.get_ident())
        with self._mutex:
            held = self._held.get(key)
            if held is not None:
                self._held[key] = (held[0] + 1, held[1])
        if held is not None:
            try:
                yield held[1]
            finally:
                with self._mutex:
                    count, lease = self._held[key]
                    self._held[key] = (count - 1, lease)
            return
        with self._acquire(collection, wait, on_wait) as lease:
            with self._mutex:
                self._held[key] = (1, lease)
            try:
                yield lease
            finally:
                with self._mutex:
                    del self._held[key]

    def _acquire(self, collection: str, wait: float, on_wait: OnWait | None
                 ) -> AbstractContextManager[Lease]:
        raise NotImplementedError


class FileWriterLock(_Reentrant):
    """A lock file per collection under `<home>/locks` (one machine)."""

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.dir = Path(home) / "locks"

    @contextmanager
    def _acquire(self, collection: str, wait: float, on_wait: OnWait | None
                 ) -> Iterator[Lease]:
        from filelock import FileLock, Timeout

        self.dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.dir / f"{collection}.lock")
        try:
            try:
                lock.acquire(timeout=0)
            except Timeout:
                if on_wait is not None and wait > 0:
                    on_wait()
                lock.acquire(timeout=wait)
        except Timeout:
            raise _busy(collection, f"lock {lock.lock_file}") from None
        try:
            yield Lease(collection, holder_name())
        finally:
            lock.release()


class DatabaseWriterLock(_Reentrant):
    """A lease row per collection in the shared database (every machine)."""

    def __init__(self, db: Database, *, ttl: float = 30.0, poll: float | None = None) -> None:
        super().__init__()
        self.db = db
        self.ttl = ttl
        self.poll = poll if poll is not None else min(1.0, ttl / 10)

    def try_acquire(self, collection: str, holder: str) -> bool:
        """Take the lease if it is free or expired; True if `holder` has it now."""
        if self.db.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        now = self.db.now()
        stmt = insert(L).values(collection=collection, holder=holder, acquired_at=now,
                                expires_at=now + self.ttl)
        upsert = stmt.on_conflict_do_update(
            index_elements=[L.c.collection],
            set_={"holder": stmt.excluded.holder, "acquired_at": stmt.excluded.acquired_at,
                  "expires_at": stmt.excluded.expires_at},
            where=L.c.expires_at < stmt.excluded.acquired_at,
        ).returning(L.c.holder)
        with self.db.begin() as conn:
            row = conn.execute(upsert).first()
        return row is not None and row[0] == holder

    def current(self, collection: str) -> tuple[str, float] | None:
        """(holder, seconds until its lease expires) of a live lease, else None."""
        with self.db.begin() as conn:
            row = conn.execute(sa.select(L.c.holder, L.c.expires_at - self.db.now())
                               .where(L.c.collection == collection)).first()
        if row is None or row[1] <= 0:
            return None
        return str(row[0]), float(row[1])

    def renew(self, collection: str, holder: str) -> bool:
        """Push the lease's expiry forward; False if `holder` no longer has it."""
        with self.db.begin() as conn:
            result = conn.execute(L.update().where(L.c.collection == collection,
                                                   L.c.holder == holder)
                                  .values(expires_at=self.db.now() + self.ttl))
        return result.rowcount == 1

    def release(self, collection: str, holder: str) -> None:
        with self.db.begin() as conn:
            conn.execute(L.delete().where(L.c.collection == collection, L.c.holder == holder))

    @contextmanager
    def _acquire(self, collection: str, wait: float, on_wait: OnWait | None
                 ) -> Iterator[Lease]:
        holder = holder_name()
        deadline = time.monotonic() + wait
        waited = False
        while not self.try_acquire(collection, holder):
            if time.monotonic() >= deadline:
                found = self.current(collection)
                where = (f"lease held by {found[0]} for {found[1]:.0f} s more unless renewed"
                         if found else "lease")
                raise _busy(collection, where)
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            time.sleep(min(self.poll, max(0.0, deadline - time.monotonic())))
        lease = Lease(collection, holder)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(lease, stop), daemon=True,
                                name=f"paperchat-lease-{collection}")
        beat.start()
        try:
            yield lease
        finally:
            stop.set()
            beat.join()
            try:
                self.release(collection, holder)
            except PaperchatError as e:  # it expires by itself
                log.warning("could not release the ingest lease on %s: %s", collection, e)

    def _heartbeat(self, lease: Lease, stop: threading.Event) -> None:
        """Renew every ttl/3 s; a lease that could not be renewed before it expired, or was
        taken over, is lost."""
        renewed = time.monotonic()
        while not stop.wait(self.ttl / 3):
            try:
                if not self.renew(lease.collection, lease.holder):
                    lease.lost = True
                    log.error("ingest lease on %s was taken over", lease.collection)
                    return
                renewed = time.monotonic()
            except PaperchatError as e:
                log.warning("could not renew the ingest lease on %s: %s", lease.collection, e)
                if time.monotonic() - renewed >= self.ttl:
                    lease.lost = True
                    return


def make_writer_lock(settings: Settings, db: Database | None = None) -> WriterLock:
    """The database lease when PAPERCHAT_DATABASE_URL is set (several machines), else the
    lock file under the data directory."""
    if settings.database_url is None:
        return FileWriterLock(settings.home)
    return DatabaseWriterLock(db or Database.from_settings(settings, lazy=True),
                              ttl=settings.ingest_lease)
