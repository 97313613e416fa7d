"""Chat sessions: create, list, read the history, rename, delete; each user sees their own."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
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
from server.security import UserDep

router = APIRouter(tags=["sessions"], responses=error_responses(503))
SESSION_ID_CHARS = 64
SessionId = Annotated[str, Path(max_length=SESSION_ID_CHARS, description="A session's id.")]


@router.post("/sessions", response_model=SessionOut, status_code=201)
def create_session(sessions: SessionsDep, user: UserDep,
                   body: SessionCreate | None = None) -> dict[str, Any]:
    """Start a chat session; pass its `id` as `session_id` to /v1/ask to continue it.

    The session belongs to the caller's API key: other keys get 404 for it.
    """
    return sessions.create(title=body.title if body else None, owner=user.name).to_json()


@router.get("/sessions", response_model=SessionList)
def list_sessions(sessions: SessionsDep, user: UserDep) -> dict[str, Any]:
    """The caller's sessions, most recently updated first (without their messages)."""
    return {"sessions": [info.to_json() for info in sessions.list(owner=user.name)]}


@router.get("/sessions/{session_id}", response_model=SessionDetail,
            responses=error_responses(404))
def get_session(session_id: SessionId, sessions: SessionsDep, user: UserDep) -> dict[str, Any]:
    """A session and its messages, oldest first, each assistant turn with its citations."""
    return sessions.get(session_id, owner=user.name).to_json()


@router.patch("/sessions/{session_id}", response_model=SessionOut,
              responses=error_responses(404))
def rename_session(session_id: SessionId, body: SessionRename, sessions: SessionsDep,
                   user: UserDep) -> dict[str, Any]:
    """Rename a session; returns it without its messages. 404 if there is no such session."""
    sessions.rename(session_id, body.title, owner=user.name)
    return sessions.get(session_id, owner=user.name).info.to_json()


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response,
               responses=error_responses(404))
async def delete_session(session_id: SessionId, sessions: SessionsDep,
                         user: UserDep) -> Response:
    """Delete a session and its messages; 404 if there is no such session."""
    await run_in_threadpool(lambda: sessions.delete(session_id, owner=user.name))
    return Response(status_code=204)
