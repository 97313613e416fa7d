"""`paperchat eval ...` (placeholder until the harness lands)."""

from __future__ import annotations

import typer

eval_app = typer.Typer(help="Retrieval and answer-quality evaluation suites.",
                       no_args_is_help=True)
