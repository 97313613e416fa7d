"""GET /healthz (the process is alive) and GET /readyz (the index can answer)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from rag.answer.service import Assistant
from rag.errors import ConfigError
from rag.llm_client import make_async_openai_client
from rag.settings import Settings
from server.deps import AssistantDep, LibraryDep, SettingsDep
from server.lifespan import index_status
from server.schemas import Health, LLMStatus, Ready

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
            responses={503: {"model": Ready, "description": "The index is not usable."}})
async def readyz(library: LibraryDep, assistant: AssistantDep,
                 settings: SettingsDep) -> JSONResponse:
    """Readiness: the index is loaded (paper count, embedder), the default answer engine,
    and whether the LLM answers.

    503 when the collection or the embedding model cannot be opened. An unreachable LLM
    does not make the server unready: answers then fall back to the extractive engine.
    """
    papers, problem = await run_in_threadpool(index_status, library)
    ready = Ready(ready=problem is None, collection=settings.collection, papers=papers,
                  embedder=library.embedder_name, engine=_engine(assistant),
                  llm=await _llm_status(settings), problem=problem)
    return JSONResponse(ready.model_dump(), status_code=200 if ready.ready else 503)


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
