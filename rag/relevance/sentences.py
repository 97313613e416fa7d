"""Sentence vectors of candidate papers: read from the store when ingest wrote them, else
embedded now (and remembered) with the collection's embedder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.answer.text import split_sentences

if TYPE_CHECKING:
    from rag.answer.vectors import SentenceVectors
    from rag.models import SearchHit


@dataclass(frozen=True)
class PaperSentences:
    """A paper's abstract split into sentences, with one L2-normalised vector per sentence."""

    texts: tuple[str, ...]
    vectors: np.ndarray  # [len(texts), dim]
    title: np.ndarray | None = None  # the title's vector


def paper_sentences(abstract: str) -> list[str]:
    """The sentences whose vectors are stored for a paper (ingest and query time agree)."""
    return split_sentences(abstract)


class SentenceSource(Protocol):
    """Where the relevance stage gets candidates' sentence vectors from."""

    def sentences(self, hits: Sequence[SearchHit]) -> dict[str, PaperSentences]: ...


class EmbeddedSentences:
    """Embeds the sentences of the given hits at query time (LRU-cached per sentence)."""

    def __init__(self, vectors: SentenceVectors) -> None:
        self._vectors = vectors

    def sentences(self, hits: Sequence[SearchHit]) -> dict[str, PaperSentences]:
        split = {h.paper_id: paper_sentences(h.abstract or h.snippet) for h in hits}
        titles = {h.paper_id: h.title for h in hits}
        found = self._vectors.lookup([*(s for texts in split.values() for s in texts),
                                      *titles.values()])
        dim = next(iter(found.values())).shape[0] if found else 0
        return {pid: PaperSentences(tuple(texts), np.array([found[s] for s in texts])
                                    if texts else np.zeros((0, dim), dtype=np.float32),
                                    title=found[titles[pid]])
                for pid, texts in split.items()}
