"""`paperchat serve`: the HTTP API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve_command(
    host: Annotated[str | None, typer.Option(
        help="Bind address (default server.host, 127.0.0.1). Binding beyond loopback "
        "without PAPERCHAT_API_KEY exposes the API to the network.")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535,
                                             help="Bind port (default 8000).")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection name.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (REST, SSE streaming, OpenAI-compatible /v1); docs at /docs."""
    import uvicorn

    from rag.settings import load_settings
    from server.app import create_app
    from server.security import is_loopback

    settings = load_settings(collection=collection, server__host=host, server__port=port)
    if not is_loopback(settings.server.host) and not (
            settings.api_key or settings.api_keys or settings.api_keys_file):
        typer.echo(f"warning: serving on {settings.server.host} without PAPERCHAT_API_KEY; "
                   "anyone who can reach it can query it", err=True)
    _check_port_free(settings.server.host, settings.server.port)
    uvicorn.run(create_app(settings), host=settings.server.host, port=settings.server.port,
                log_level=log_level)


def _check_port_free(host: str, port: int) -> None:
    """Fail before loading anything when the port is taken (uvicorn would only log it)."""
    import socket

    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as e:
            typer.echo(f"error: cannot listen on {host}:{port} ({e.strerror}); is another "
                       "server running there? Pick another port with --port", err=True)
            raise typer.Exit(code=2) from None
