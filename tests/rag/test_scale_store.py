"""The prefetching page reader behind full keyword rebuilds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from rag.chroma import prefetched as _prefetched
from rag.errors import CollectionError


def _pages(n: int, fail_at: int | None = None) -> Iterator[dict[str, Any]]:
    for i in range(n):
        if i == fail_at:
            raise CollectionError("Chroma error: boom")
        yield {"ids": [str(i)]}


def _helpers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "chroma-prefetch"]


def test_pages_arrive_in_order_and_the_helper_ends() -> None:
    assert [p["ids"][0] for p in _prefetched(_pages(7))] == [str(i) for i in range(7)]
    assert not _helpers()


def test_a_failing_read_is_raised_to_the_consumer() -> None:
    seen = []
    with pytest.raises(CollectionError, match="boom"):
        for page in _prefetched(_pages(5, fail_at=3)):
            seen.append(page["ids"][0])
    assert seen == ["0", "1", "2"]
    assert not _helpers()


def test_a_consumer_that_stops_early_stops_the_helper() -> None:
    pages = _prefetched(_pages(1000))
    assert next(pages)["ids"] == ["0"]
    pages.close()
    assert not _helpers()
