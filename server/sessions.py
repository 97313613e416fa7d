"""Chat sessions: create, list, read the history, rename, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from server.deps import SessionsDep
from server.schemas import (
    SessionCreate,
    SessionDetail,
    SessionList,
    SessionOut,
    SessionRename,
    error_responses,
)

router = APIRouter(tags=["sessions"], responses=error_responses(503))


@router.post("/sessions", response_model=SessionOut, status_code=201)
def create_session(sessions: SessionsDep, body: SessionCreate | None = None) -> dict[str, Any]:
    """Start a chat session; pass its `id` as `session_id` to /v1/ask to continue it."""
    return sessions.create(title=body.title if body else None).to_json()


@router.get("/sessions", response_model=SessionList)
def list_sessions(sessions: SessionsDep) -> dict[str, Any]:
    """All sessions, most recently updated first (without their messages)."""
    return {"sessions": [info.to_json() for info in sessions.list()]}


@router.get("/sessions/{session_id}", response_model=SessionDetail,
            responses=error_responses(404))
def get_session(session_id: str, sessions: SessionsDep) -> dict[str, Any]:
    """A session and its messages, oldest first, each assistant turn with its citations."""
    return sessions.get(session_id).to_json()


@router.patch("/sessions/{session_id}", response_model=SessionOut,
              responses=error_responses(404))
def rename_session(session_id: str, body: SessionRename, sessions: SessionsDep
                   ) -> dict[str, Any]:
    """Rename a session; returns it without its messages. 404 if there is no such session."""
    sessions.rename(session_id, body.title)
    return sessions.get(session_id).info.to_json()


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response,
               responses=error_responses(404))
async def delete_session(session_id: str, sessions: SessionsDep) -> Response:
    """Delete a session and its messages; 404 if there is no such session."""
    await run_in_threadpool(sessions.delete, session_id)
    return Response(status_code=204)
