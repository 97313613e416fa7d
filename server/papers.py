"""GET /v1/papers (paged) and GET /v1/papers/{paper_id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from rag.models import PaperDetail, PaperSummary
from server.deps import LibraryDep
from server.schemas import PaperPage, error_responses

router = APIRouter(tags=["papers"], responses=error_responses(503))
PAPER_ID_CHARS = 256  # longer ids are refused without being echoed (DOIs fit easily)


@router.get("/papers", response_model=PaperPage)
def list_papers(
    library: LibraryDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Papers to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Papers per page.")] = 50,
) -> PaperPage:
    """List the collection's papers sorted by title, one page at a time."""
    papers = library.papers()
    page = [PaperSummary.of(p) for p in papers[offset:offset + limit]]
    return PaperPage(collection=library.settings.collection, count=len(papers),
                     offset=offset, limit=limit, papers=page)


@router.get("/papers/{paper_id}", response_model=PaperDetail, responses=error_responses(404))
def get_paper(paper_id: Annotated[str, Path(max_length=PAPER_ID_CHARS)],
              library: LibraryDep) -> PaperDetail:
    """One paper with its abstract and bibliographic fields; 404 if it is not indexed."""
    return PaperDetail.of(library.get_paper(paper_id))
