"""GET /v1/search: ranked papers for a query."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rag.errors import InputError
from rag.models import SearchResponse
from rag.vocab import K_MAX, Mode
from server.deps import LibraryDep, SettingsDep
from server.schemas import NOT_BLANK, error_responses

router = APIRouter(tags=["search"], responses=error_responses(503))

@router.get("/search", response_model=SearchResponse)
def search(
    library: LibraryDep,
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, pattern=NOT_BLANK, description="What to look for.")],
    k: Annotated[int | None, Query(ge=1, le=K_MAX, description="Papers to return "
                                   "(default retrieval.k).")] = None,
    mode: Annotated[Mode | None, Query(description="Ranking: default (hybrid), "
                                       "rerank (hybrid re-ranked by the relevance stage), "
                                       "bm25, dense, rrf, zscore.")] = None,
) -> SearchResponse:
    """Find the papers that best match a query (hybrid BM25 + embeddings).

    Returns the same JSON as `paperchat search --json`; an empty collection gives no results.
    """
    if len(q) > settings.server.max_question_chars:
        raise InputError(f"the query is longer than {settings.server.max_question_chars} "
                         "characters")
    return library.search(q, k, mode=mode)
