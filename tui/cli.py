"""`paperchat chat`: the terminal chat, in-process or against `paperchat serve`."""

from __future__ import annotations

from typing import Annotated

import typer


def chat_command(
    server: Annotated[str | None, typer.Option(
        "--server", metavar="URL",
        help="Talk to `paperchat serve` at URL (e.g. http://127.0.0.1:8000) instead of "
        "running the engine in this process. PAPERCHAT_API_KEY is sent as the bearer key.",
    )] = None,
    collection: Annotated[str | None, typer.Option(
        "--collection", metavar="NAME",
        help="Collection to chat with (in-process; a server serves its own).",
    )] = None,
    new: Annotated[bool, typer.Option(
        "--new", help="Start with a new session instead of reopening the last one "
        "(PAPERCHAT_TUI_RESUME_LAST=false makes that the default).",
    )] = False,
) -> None:
    """Open the terminal chat: streamed, cited answers; sessions are saved (ctrl+s)."""
    from rag.settings import load_settings
    from tui.app import PaperchatApp
    from tui.client import make_client

    if server and collection:
        raise typer.BadParameter("a server serves the collection it was started with; "
                                 "use --collection without --server", param_hint="--collection")
    if server and not server.startswith(("http://", "https://")):
        raise typer.BadParameter("expected an http:// or https:// URL", param_hint="--server")
    settings = load_settings(collection=collection)
    PaperchatApp(make_client(settings, server), data_dir=settings.home,
                 resume_last=settings.tui.resume_last and not new).run()
