"""The collection shipped with paperchat: the user's trending-papers page dump."""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path

BUNDLED_COLLECTION = "trending-pretraining-papers.txt"
_EXTRACTED = ExitStack()
atexit.register(_EXTRACTED.close)


@cache
def bundled_collection_path() -> Path:
    """Path of the bundled collection file, package data of `ingest` (works when installed)."""
    resource = files("ingest") / "data" / BUNDLED_COLLECTION
    if isinstance(resource, Path):
        return resource
    # Installed as a zip: extract once, removed at interpreter exit.
    return _EXTRACTED.enter_context(as_file(resource))
