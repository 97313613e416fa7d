"""The shared-state database: chat sessions, ingest leases; SQLite or PostgreSQL.

`PAPERCHAT_DATABASE_URL` is a SQLAlchemy URL. Unset, it is the SQLite file
`<home>/sessions.sqlite3` that paperchat has always used (embedded, nothing to install).
`postgresql://…` selects psycopg 3 (`postgresql+psycopg://`), so that several `paperchat
serve` replicas on several machines share sessions and coordinate ingests.

The schema is managed by Alembic (rag/db/migrations, shipped with the package). Opening a
Database migrates it to the newest revision (`migrate=False` leaves it alone; `paperchat db
upgrade` does it explicitly); a SQLite file from the releases before Alembic (schema version
1 or 2 in `PRAGMA user_version`) is stamped with the matching revision first, so its
sessions are kept. Two processes starting at once migrate once (a PostgreSQL advisory lock;
a lock file beside a SQLite database).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from rag.errors import ConfigError, DatabaseError, DatabaseUnavailable

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger("paperchat.db")

HEAD = "0003"  # the newest revision in rag/db/migrations (a test keeps them in step)
# Legacy SQLite files: PRAGMA user_version -> the Alembic revision with the same schema.
LEGACY_VERSIONS = {1: "0001", 2: "0002"}
MIGRATION_LOCK_ID = 0x70617065  # pg_advisory_lock key for migrations ("pape")
SCRIPT_LOCATION = "rag.db:migrations"


def database_url(settings: Settings) -> str:
    """The configured URL, or the SQLite file under the data directory."""
    if settings.database_url:
        return settings.database_url.get_secret_value()
    return f"sqlite:///{settings.home / 'sessions.sqlite3'}"


def normalise_url(url: str) -> URL:
    """A SQLAlchemy URL; `postgresql://` and `postgres://` get the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise ConfigError(f"invalid database URL: {e}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {parsed.get_backend_name()!r}: use "
                          "sqlite:///<file> or postgresql://user:password@host/dbname")
    return parsed


class Database:
    """An engine (connection pool) over the shared-state database, migrated on open."""

    def __init__(self, url: str | URL, *, migrate: bool = True, lazy: bool = False,
                 timeout: float = 10.0) -> None:
        """`migrate`: bring the schema up to date, now, or with `lazy` at the first
        transaction (a server starting while the database is down)."""
        self.url = normalise_url(url.render_as_string(hide_password=False)
                                 if isinstance(url, URL) else url)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = _make_engine(self.url, timeout)
        self._pending = migrate  # migrate before the first transaction
        self._migrating = threading.Lock()
        if migrate and not lazy:
            self.upgrade()

    @classmethod
    def from_settings(cls, settings: Settings, *, migrate: bool = True,
                      lazy: bool = False) -> Database:
        return cls(database_url(settings), migrate=migrate, lazy=lazy,
                   timeout=settings.database_timeout)

    @classmethod
    def sqlite(cls, path: Path | str, *, migrate: bool = True) -> Database:
        return cls(URL.create("sqlite", database=str(path)), migrate=migrate)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def path(self) -> Path | None:
        """The file of a SQLite database, else None."""
        return Path(self.url.database) if self.is_sqlite and self.url.database else None

    def now(self) -> Any:
        """The database's clock in seconds since the epoch, as a SQL expression (leases
        use it, so machines' clocks need not agree)."""
        if self.is_sqlite:
            return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)")
        return sa.func.extract("epoch", sa.func.clock_timestamp())

    def describe(self) -> str:
        """The URL without its password, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in one transaction (commit on success); DatabaseUnavailable when the
        server cannot be reached. A database opened with `migrate=True` that was down then
        is migrated first."""
        if self._pending:
            self.upgrade()
        with self._transaction() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as e:
            raise DatabaseUnavailable(
                f"the database ({self.describe()}) is unavailable: {_reason(e)}") from e

    def ping(self) -> None:
        """One round trip; DatabaseUnavailable if it fails."""
        with self._transaction() as conn:
            conn.execute(sa.text("SELECT 1"))

    def revision(self) -> str | None:
        """The Alembic revision the database is at (None: never migrated)."""
        with self._transaction() as conn:
            return _current_revision(conn)

    def upgrade(self, target: str = "head") -> tuple[str | None, str | None]:
        """Migrate to `target` (default the newest); (revision before, revision after)."""
        with self._migrating:
            before, after = self._upgrade(target)
            self._pending = False
        return before, after

    def _upgrade(self, target: str) -> tuple[str | None, str | None]:
        with self._migration_lock(), self._transaction() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                             {"k": MIGRATION_LOCK_ID})
            before = _current_revision(conn)
            if before is None:
                before = _adopt_legacy_sqlite(conn)
            if before == HEAD and target == "head":
                return before, before  # the usual case: no Alembic import at all
            if before is not None and before not in _known_revisions():
                raise DatabaseError(
                    f"the database ({self.describe()}) is at schema revision {before!r}, "
                    "newer than this paperchat supports; upgrade paperchat")
            from alembic import command

            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, target)
            after = _current_revision(conn)
            if conn.dialect.name == "sqlite":
                # Releases before Alembic read PRAGMA user_version: 2 tells them the
                # sessions schema they know is there (the tables added since don't matter).
                conn.exec_driver_sql(f"PRAGMA user_version = {max(LEGACY_VERSIONS)}")
        if before != after:
            log.info("database %s migrated from %s to %s", self.describe(), before, after)
        return before, after

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if not self.is_sqlite or self.path is None:
            yield  # PostgreSQL: the advisory lock inside the migration's transaction
            return
        from filelock import FileLock

        with FileLock(str(self.path) + ".migrate.lock", timeout=60):
            yield

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(url: URL, timeout: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": timeout})

        @event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA foreign_keys = ON")  # ON DELETE CASCADE of messages

        return engine
    try:
        # No pool_pre_ping: it costs a round trip per transaction. After a database restart
        # the first statement on a stale connection fails (DatabaseUnavailable, 503 once)
        # and SQLAlchemy then replaces every pooled connection.
        return sa.create_engine(url, pool_size=8, max_overflow=16,
                                connect_args={"connect_timeout": max(1, round(timeout))})
    except NoSuchModuleError as e:  # pragma: no cover - psycopg is a dependency
        raise ConfigError(f"{e}; install paperchat[postgres]") from e


def _reason(e: DBAPIError) -> str:
    """The driver's first line, which names the problem (refused, auth, no database)."""
    text = str(e.orig) if e.orig is not None else str(e)
    return text.strip().splitlines()[0] if text.strip() else type(e).__name__


def _current_revision(conn: Connection) -> str | None:
    from sqlalchemy import inspect

    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(sa.text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def _adopt_legacy_sqlite(conn: Connection) -> str | None:
    """A SQLite sessions file made before Alembic: stamp the revision of its schema."""
    from sqlalchemy import inspect

    if conn.dialect.name != "sqlite" or not inspect(conn).has_table("sessions"):
        return None
    version = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    if version not in LEGACY_VERSIONS:
        raise DatabaseError(f"sessions schema version {version} is newer than this paperchat "
                            "supports; upgrade paperchat")
    from alembic import command

    config = _alembic_config()
    config.attributes["connection"] = conn
    command.stamp(config, LEGACY_VERSIONS[version])
    log.info("adopted a version %d sessions file as revision %s", version,
             LEGACY_VERSIONS[version])
    return LEGACY_VERSIONS[version]


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
