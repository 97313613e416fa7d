"""`paperchat chat` (placeholder until the terminal chat lands)."""

from __future__ import annotations

import typer


def chat_command() -> None:
    """Open the terminal chat (not built yet)."""
    raise typer.Exit(code=2)
