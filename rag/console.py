"""Console output shared by the command-line front ends: JSON for scripts, progress bars
on a TTY. Plain stdout/stderr; rich is imported only when a bar is shown."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any


def print_json(obj: Any) -> None:
    """One JSON document per line on stdout; a pydantic model is written as its dump."""
    if hasattr(obj, "model_dump"):  # duck-typed: importing pydantic would slow `--help`
        obj = obj.model_dump(mode="json")
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def reader_may_leave() -> Iterator[None]:
    """`paperchat papers | head`: when the reader closes the pipe, stop quietly with exit 0.

    (click would exit 1; what the reader wanted was written, so it is not a failure.)"""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None


def err(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """Progress on stderr when enabled (not --json): a rich bar on a TTY, else plain lines."""
    if not enabled:
        yield lambda done, total: None
        return
    if not interactive():
        yield _progress_lines(description)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _progress_lines(description: str, *, every: float = 5.0) -> Callable[[int, int], None]:
    """For logs and pipes: a line at the start, at least every `every` s, and at the end.

    Silent when the first call already reports completion (nothing needed doing)."""
    start = time.monotonic()
    last: float | None = None

    def update(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic() - start
        if total <= 0 or (last is None and done >= total):
            return
        if last is not None and done < total and now - last < every:
            return
        last = now
        err(f"{description}: {done}/{total} ({100 * done // total}%, {now:.0f} s)")

    return update


def interactive() -> bool:
    return sys.stderr.isatty()
