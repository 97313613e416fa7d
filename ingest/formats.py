"""The collection-file formats `paperchat ingest` reads (CLI, API and parsers share it)."""

from __future__ import annotations

from typing import Literal, get_args

Format = Literal["trending", "jsonl", "json", "beir", "arxiv", "csv", "bibtex"]
FORMATS: tuple[str, ...] = get_args(Format)
