"""The shared-state database: URLs, Alembic revisions (an upgrade from the first revision
keeps the data and ends at the schema the code queries), `paperchat db`, an unreachable
server."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from rag.db import HEAD, Database, _alembic_config, normalise_url
from rag.db.schema import metadata
from rag.errors import ConfigError, DatabaseUnavailable
from rag.sessions import SessionStore
from tests.paperchat.test_cli import cli
from tests.utils.chroma_server import free_port


def test_urls() -> None:
    assert normalise_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:////tmp/x.sqlite3").drivername == "sqlite"
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        normalise_url("mysql://u@h/db")
    with pytest.raises(ConfigError, match="invalid database URL"):
        normalise_url("not a url")


def test_head_is_the_newest_revision_shipped() -> None:
    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == HEAD


def test_upgrade_from_the_first_revision_keeps_the_data_and_matches_the_code(
        database_url: str) -> None:
    db = Database(database_url, migrate=False)
    config = _alembic_config()
    with db.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    assert db.revision() == "0001"
    with db.begin() as conn:  # a session as the first release wrote it
        conn.execute(sa.text("INSERT INTO sessions (id, title, created_at, updated_at) "
                             "VALUES ('s1', 'first', '2024-01-01', '2024-01-01')"))
        conn.execute(sa.text("INSERT INTO messages (session_id, role, content, created_at) "
                             "VALUES ('s1', 'user', 'q', '2024-01-01')"))
    assert db.upgrade() == ("0001", HEAD)
    with db.begin() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], diff  # the migrated schema is the one rag/db/schema.py queries
    store = SessionStore(db)
    assert store.get("s1", owner=None).messages[0].content == "q"
    db.dispose()


def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    errors: list[BaseException] = []
    dbs: list[Database] = []

    def start() -> None:
        try:
            dbs.append(Database(postgres_url))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(dbs) == 4
    assert dbs[0].revision() == HEAD
    for db in dbs:
        db.dispose()


def test_an_unreachable_server_is_database_unavailable_without_the_password() -> None:
    url = f"postgresql://paperchat:s3cret-pw@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(DatabaseUnavailable) as info:
        Database(url)
    assert "s3cret-pw" not in str(info.value) and "refused" in str(info.value).lower()


@pytest.mark.slow  # three CLI processes
def test_cli_db_upgrade_and_current(postgres_url: str, tmp_path: Path) -> None:
    env = {"PAPERCHAT_DATABASE_URL": postgres_url}
    before = json.loads(cli("db", "current", "--json", home=tmp_path, extra=env).stdout)
    assert before["revision"] is None and before["head"] == HEAD
    up = json.loads(cli("db", "upgrade", "--json", home=tmp_path, extra=env).stdout)
    assert (up["from"], up["to"]) == (None, HEAD)
    again = cli("db", "upgrade", home=tmp_path, extra=env).stdout
    assert f"already at revision {HEAD}" in again
    down = cli("db", "upgrade", home=tmp_path, check=False,
               extra={"PAPERCHAT_DATABASE_URL": "postgresql://x:pw@127.0.0.1:1/none"})
    assert down.returncode == 4 and "unavailable" in down.stderr and "pw@" not in down.stderr
