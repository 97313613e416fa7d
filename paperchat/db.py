"""`paperchat db upgrade` and `paperchat db current`: the shared-state database's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from rag.console import print_json

db_app = typer.Typer(
    help="The database of chat sessions and ingest leases (PAPERCHAT_DATABASE_URL; default "
    "the SQLite file <home>/sessions.sqlite3). Servers and commands migrate it when they "
    "open it; `upgrade` does it explicitly, e.g. before starting new replicas.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@db_app.command("upgrade")
def upgrade_command(as_json: JsonFlag = False) -> None:
    """Migrate the database to this paperchat's schema (creates it when empty)."""
    from rag.db import Database
    from rag.settings import load_settings

    db = Database.from_settings(load_settings(), migrate=False)
    try:
        before, after = db.upgrade()
    finally:
        db.dispose()
    if as_json:
        print_json({"database": db.describe(), "from": before, "to": after})
    elif before == after:
        typer.echo(f"{db.describe()}: already at revision {after}")
    else:
        typer.echo(f"{db.describe()}: migrated from revision {before or '(empty)'} to {after}")


@db_app.command("current")
def current_command(as_json: JsonFlag = False) -> None:
    """Show the database's schema revision and the one this paperchat expects."""
    from rag.db import HEAD, Database
    from rag.settings import load_settings

    db = Database.from_settings(load_settings(), migrate=False)
    try:
        revision = db.revision()
    finally:
        db.dispose()
    if as_json:
        print_json({"database": db.describe(), "revision": revision, "head": HEAD})
    else:
        state = "up to date" if revision == HEAD else f"run `paperchat db upgrade` ({HEAD})"
        typer.echo(f"{db.describe()}: revision {revision or '(empty)'}, {state}")
