"""`paperchat serve` (placeholder until the server lands)."""

from __future__ import annotations

import typer


def serve_command() -> None:
    """Serve the HTTP API (not built yet)."""
    raise typer.Exit(code=2)
