"""Entry point: `paperchat --help` lists the commands. Heavy imports live in the commands."""

from __future__ import annotations

import sys

import typer

from evals.cli import eval_app
from ingest.cli import ingest_command, papers_command
from paperchat.db import db_app
from paperchat.query import ask_command, search_command
from server.cli import serve_command
from tui.cli import chat_command

app = typer.Typer(
    name="paperchat",
    help="Ask questions about a collection of research-paper abstracts; answers cite the "
    "papers.\n\nStart with `paperchat ingest` (the bundled collection of 119 papers), then "
    "`paperchat search`, `paperchat ask` or `paperchat chat`. Settings come from "
    "PAPERCHAT_* variables or <home>/config.toml; an OpenAI-compatible LLM is used when "
    "OPENAI_BASE_URL/OPENAI_API_KEY (or PAPERCHAT_LLM_BASE_URL) is set, else answers are "
    "extractive and offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("ingest")(ingest_command)
app.command("search")(search_command)
app.command("ask")(ask_command)
app.command("papers")(papers_command)
app.command("chat")(chat_command)
app.command("serve")(serve_command)
app.add_typer(eval_app, name="eval")
app.add_typer(db_app, name="db")


def run() -> None:
    """Console-script entry: convert our errors into a message and an exit code."""
    from rag.errors import PaperchatError

    try:
        app()
    except PaperchatError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; nothing half-written is visible: the previous index "
                         "stays queryable, and running the command again completes it\n")
        sys.exit(130)
