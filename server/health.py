"""GET /healthz (the process is alive) and GET /readyz (the index can answer)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from rag.answer.service import Assistant
from rag.errors import ConfigError, PaperchatError
from rag.llm_client import make_async_openai_client
from rag.sessions import SessionStore
from rag.settings import Settings
from server.deps import AssistantDep, LibraryDep, SessionsDep, SettingsDep
from server.lifespan import index_status
from server.schemas import ChromaStatus, DatabaseStatus, Health, LLMStatus, Ready

router = APIRouter(tags=["health"])
PROBE_SECONDS = 2.0


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: answers as soon as the process serves HTTP."""
    return Health(status="ok")


@router.head("/healthz", response_class=Response)
async def healthz_head() -> Response:
    """Liveness for probes that send HEAD: 200 with no body."""
    return Response(status_code=200)


@router.get("/readyz", response_model=Ready,
            responses={503: {"model": Ready, "description": "The index is not usable (or, "
                             "with require=database, the database is unreachable)."}})
async def readyz(library: LibraryDep, assistant: AssistantDep, sessions: SessionsDep,
                 settings: SettingsDep,
                 require: Annotated[list[Literal["database"]] | None, Query(
                     description="Also answer 503 when this part is down: `database` for a "
                     "load balancer that should drain a replica which lost its database.")
                 ] = None) -> JSONResponse:
    """Readiness: the index is loaded (paper count, embedder), the default answer engine,
    and whether the LLM, Chroma and the session database answer.

    503 when the collection or the embedding model cannot be opened (Chroma unreachable
    included). An unreachable LLM does not make the server unready (answers fall back to
    the extractive engine), nor does an unreachable database unless `require=database`:
    search and ask without a session still work; session routes answer 503.
    """
    (papers, problem), db_ok = await asyncio.gather(
        run_in_threadpool(index_status, library), _database_reachable(sessions))
    chroma = ChromaStatus(mode="server" if settings.chroma_url else "embedded",
                          reachable=problem != "store_unavailable")
    database = DatabaseStatus(backend="sqlite" if sessions.db.is_sqlite else "postgresql",
                              reachable=db_ok)
    ready = problem is None and (db_ok or "database" not in (require or []))
    body = Ready(ready=ready, collection=settings.collection, papers=papers,
                 embedder=library.embedder_name, engine=_engine(assistant),
                 llm=await _llm_status(settings), chroma=chroma, database=database,
                 problem=problem or (None if db_ok else "database_unavailable"))
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _database_reachable(sessions: SessionStore) -> bool:
    try:
        await asyncio.wait_for(run_in_threadpool(sessions.db.ping), PROBE_SECONDS)
        return True
    except (PaperchatError, TimeoutError):
        return False


def _engine(assistant: Assistant) -> str | None:
    try:
        return assistant.resolve_engine()
    except ConfigError:  # answer.engine=llm without an endpoint: no question can be answered
        return None


async def _llm_status(settings: Settings) -> LLMStatus:
    llm = settings.llm
    if not llm.configured:
        return LLMStatus(configured=False, reachable=None, model=None)
    client = make_async_openai_client(base_url=llm.base_url, api_key=llm.api_key,
                                      timeout=PROBE_SECONDS, max_retries=0)
    try:
        await client.models.list()
        reachable = True
    except Exception:  # any failure means "not reachable"; details could leak the endpoint
        reachable = False
    finally:
        await client.close()
    return LLMStatus(configured=True, reachable=reachable, model=llm.model)
