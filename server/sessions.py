"""Chat sessions: create, list, read the history, rename, delete; each user sees their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.concurrency import run_in_threadpool

from rag.sessions import Session, SessionInfo
from server.deps import SessionsDep
from server.schemas import SessionCreate, SessionList, SessionRename, error_responses
from server.security import UserDep

router = APIRouter(tags=["sessions"], responses=error_responses(503))
SESSION_ID_CHARS = 64
SessionId = Annotated[str, Path(max_length=SESSION_ID_CHARS, description="A session's id.")]


@router.post("/sessions", response_model=SessionInfo, status_code=201)
def create_session(sessions: SessionsDep, user: UserDep,
                   body: SessionCreate | None = None) -> SessionInfo:
    """Start a chat session; pass its `id` as `session_id` to /v1/ask to continue it.

    The session belongs to the caller's API key: other keys get 404 for it.
    """
    return sessions.create(title=body.title if body else None, owner=user.name)


@router.get("/sessions", response_model=SessionList)
def list_sessions(sessions: SessionsDep, user: UserDep) -> SessionList:
    """The caller's sessions, most recently updated first (without their messages)."""
    return SessionList(sessions=sessions.list(owner=user.name))


@router.get("/sessions/{session_id}", response_model=Session, responses=error_responses(404))
def get_session(session_id: SessionId, sessions: SessionsDep, user: UserDep) -> Session:
    """A session and its messages, oldest first, each assistant turn with its citations."""
    return sessions.get(session_id, owner=user.name)


@router.patch("/sessions/{session_id}", response_model=SessionInfo,
              responses=error_responses(404))
def rename_session(session_id: SessionId, body: SessionRename, sessions: SessionsDep,
                   user: UserDep) -> SessionInfo:
    """Rename a session; returns it without its messages. 404 if there is no such session."""
    sessions.rename(session_id, body.title, owner=user.name)
    return sessions.get(session_id, owner=user.name).info


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response,
               responses=error_responses(404))
async def delete_session(session_id: SessionId, sessions: SessionsDep,
                         user: UserDep) -> Response:
    """Delete a session and its messages; 404 if there is no such session."""
    await run_in_threadpool(lambda: sessions.delete(session_id, owner=user.name))
    return Response(status_code=204)
