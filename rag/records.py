"""How papers are laid out as Chroma records.

One record per chunk, id `<paper_id>#<hash>#<i>` (the paper's content hash, the chunk's
index); metadata `paper_id`, `hash`, `chunk_index`, `n_chunks`, `title`; chunk 0 also
carries the paper's full record (`paper`, JSON), so results and listings need no second
store. Reads that run per query or per ingest go by record id, never by scanning
metadata: at 100k papers a metadata `where` costs ~0.1-1 s, an id lookup ~1 ms.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.models import Chunk, Paper


@dataclass(frozen=True)
class PaperState:
    """What the store holds for one paper."""

    hash: str
    chunks_present: int
    chunks_expected: int

    @property
    def complete(self) -> bool:
        return self.chunks_present == self.chunks_expected


MIXED = PaperState("", 0, 1)  # two versions side by side: an interrupted write


def chunk_id(chunk: Chunk, content_hash: str) -> str:
    return f"{chunk.paper_id}#{content_hash}#{chunk.index}"


def first_chunk_id(any_chunk_id: str) -> str:
    """Id of chunk 0 (the one carrying the paper record) of the same paper version."""
    return any_chunk_id.rsplit("#", 1)[0] + "#0"


def paper_of(any_chunk_id: str) -> str:
    return any_chunk_id.rsplit("#", 2)[0]


def version_ids(paper_id: str, state: PaperState) -> list[str] | None:
    """Every chunk id a stored paper version can have; None when it is not one clean version."""
    if not state.hash:
        return None
    return [f"{paper_id}#{state.hash}#{i}" for i in range(max(state.chunks_expected, 1))]


def chunk_records(papers: Sequence[Paper], chunks: Sequence[Chunk], hashes: dict[str, str]
                  ) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(ids, documents, metadatas) of the chunks of whole papers."""
    by_id = {p.id: p for p in papers}
    counts: dict[str, int] = {}
    for c in chunks:
        counts[c.paper_id] = counts.get(c.paper_id, 0) + 1
    ids, docs, metas = [], [], []
    for c in chunks:
        p = by_id[c.paper_id]
        meta: dict[str, Any] = {"paper_id": c.paper_id, "hash": hashes[c.paper_id],
                                "chunk_index": c.index, "n_chunks": counts[c.paper_id],
                                "title": p.title}
        if c.index == 0:
            meta["paper"] = json.dumps(p.model_dump(mode="json"), ensure_ascii=False)
        ids.append(chunk_id(c, hashes[c.paper_id]))
        docs.append(c.text)
        metas.append(meta)
    return ids, docs, metas


def states_from_metadata(metadatas: Iterable[dict[str, Any]]) -> dict[str, PaperState]:
    """Per paper: content hash and chunk counts, from chunk metadata."""
    groups: dict[tuple[str, str], list[int]] = {}
    for meta in metadatas:
        key = (meta["paper_id"], meta["hash"])
        groups.setdefault(key, [0, int(meta["n_chunks"])])[0] += 1
    states: dict[str, PaperState] = {}
    for (pid, h), (present, expected) in groups.items():
        # Two versions side by side: prefer the marker that makes the next ingest rewrite it.
        states[pid] = MIXED if pid in states else PaperState(h, present, expected)
    return states


def states_from_ids(chunk_ids: Iterable[str]) -> dict[str, PaperState]:
    """`states_from_metadata` from chunk ids alone (valid for complete versions only)."""
    groups: dict[tuple[str, str], int] = {}
    for cid in chunk_ids:
        pid, h, _ = cid.rsplit("#", 2)
        groups[pid, h] = groups.get((pid, h), 0) + 1
    states: dict[str, PaperState] = {}
    for (pid, h), n in groups.items():
        states[pid] = MIXED if pid in states else PaperState(h, n, n)
    return states


def paper_from_json(raw: str) -> Paper:
    return Paper.model_validate_json(raw)
