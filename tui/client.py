"""One client interface for the chat, two ways to reach the answer layer.

`InProcessClient` wraps `Assistant.astream`, `Library` and `SessionStore` in this process;
`HttpClient` talks to `paperchat serve` (httpx, httpx-sse) and reads its JSON back into the
same rag/ models. The app sees only `ChatClient`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from rag.errors import PaperchatError

if TYPE_CHECKING:
    from rag.answer.events import Event
    from rag.models import Paper
    from rag.sessions import Session, SessionInfo
    from rag.settings import Settings

T = TypeVar("T")

Progress = Callable[[int, int], None]
READY_TIMEOUT = 15.0  # seconds for GET /readyz (it probes the LLM for at most 2 s)


class ServerUnavailable(PaperchatError):
    """The paperchat server cannot be reached or did not answer in time."""

    code = "server_unavailable"


class ServerError(PaperchatError):
    """The server answered with an error body `{"error": {"code", "message"}}`."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class ClientStatus:
    """What the status bar shows once the client is ready."""

    engine: str  # "llm" | "extractive"
    model: str  # chat model for llm, else the embedder
    papers: int
    where: str  # "in-process" or the server URL
    ingested: int = 0  # papers indexed by a first-run ingest


class ChatClient(Protocol):
    """Everything the chat screen needs from the answer layer."""

    where: str

    async def start(self, progress: Progress | None = None) -> ClientStatus:
        """Load the engine (first run: ingest the bundled collection); `progress(done, total)`
        is called on the event loop."""
        ...

    def astream(self, question: str, *, session_id: str | None = None
                ) -> AsyncGenerator[Event, None]:
        """Events of one answer: sources, token..., citations, done | error."""
        ...

    async def create_session(self, title: str | None = None) -> SessionInfo: ...

    async def list_sessions(self) -> list[SessionInfo]: ...

    async def get_session(self, session_id: str) -> Session: ...

    async def rename_session(self, session_id: str, title: str) -> None: ...

    async def delete_session(self, session_id: str) -> None: ...

    async def get_paper(self, paper_id: str) -> Paper | None:
        """The full paper (abstract, authors, year) or None when it cannot be fetched."""
        ...

    async def aclose(self) -> None: ...


class InProcessClient:
    """The answer layer in this process, on the configured engine."""

    where = "in-process"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._assistant: Any = None
        self._library: Any = None
        self._sessions: Any = None

    async def start(self, progress: Progress | None = None) -> ClientStatus:
        loop = asyncio.get_running_loop()

        def on_loop(done: int, total: int) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress, done, total)

        return await asyncio.to_thread(self._load, on_loop)

    def _load(self, progress: Progress) -> ClientStatus:
        # Heavy imports here: the first paint must not wait for chromadb or the model.
        from ingest.pipeline import ensure_ingested
        from rag.answer.service import Assistant
        from rag.library import Library
        from rag.sessions import SessionStore

        library = Library(self.settings)
        report = ensure_ingested(library, progress=progress)
        self._sessions = SessionStore.from_settings(self.settings)
        assistant = Assistant(self.settings, library, sessions=self._sessions)
        library.check_embedder()
        library.embedder.embed_query("warm up")  # load the model now, not on the 1st question
        engine = assistant.resolve_engine(None)
        if engine == "llm":
            # Import the openai SDK and build its client now: the app freezes what is loaded
            # by then out of the garbage collector's full passes; loaded on the first question
            # instead, those passes rescan it and stall the first streamed answer by ~100 ms.
            _ = assistant.chat.client().chat.completions
        model = self.settings.llm.model if engine == "llm" else library.embedder_name
        self._library, self._assistant = library, assistant
        return ClientStatus(engine, model, library.count(), self.where,
                            report.papers if report else 0)

    def _ready(self) -> None:
        if self._assistant is None:
            raise PaperchatError("the answer engine is still loading; try again in a moment")

    async def astream(self, question: str, *, session_id: str | None = None
                      ) -> AsyncGenerator[Event, None]:
        self._ready()
        stream = self._assistant.astream(question, session_id=session_id)
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()  # closes the LLM stream when the answer is cancelled

    async def _call(self, method: str, *args: Any) -> Any:
        self._ready()
        return await asyncio.to_thread(getattr(self._sessions, method), *args)

    async def create_session(self, title: str | None = None) -> SessionInfo:
        return await self._call("create", title)  # type: ignore[no-any-return]

    async def list_sessions(self) -> list[SessionInfo]:
        return await self._call("list")  # type: ignore[no-any-return]

    async def get_session(self, session_id: str) -> Session:
        return await self._call("get", session_id)  # type: ignore[no-any-return]

    async def rename_session(self, session_id: str, title: str) -> None:
        await self._call("rename", session_id, title)

    async def delete_session(self, session_id: str) -> None:
        await self._call("delete", session_id)

    async def get_paper(self, paper_id: str) -> Paper | None:
        if self._library is None:
            return None
        try:
            return await asyncio.to_thread(self._library.get_paper, paper_id)  # type: ignore[no-any-return]
        except PaperchatError:
            return None

    async def aclose(self) -> None:
        return None


class HttpClient:
    """`paperchat serve` over HTTP: SSE for answers, JSON for sessions and papers."""

    def __init__(self, base_url: str, settings: Settings, *, connect_timeout: float = 5.0,
                 read_timeout: float | None = None, transport: Any = None) -> None:
        import httpx

        self.where = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        # The read timeout bounds the gap between two SSE events, not the whole answer; by
        # default it outlasts the server's own LLM timeout so the server reports that first.
        read = settings.llm.timeout + 30 if read_timeout is None else read_timeout
        self._ready_timeout = httpx.Timeout(min(read, READY_TIMEOUT), connect=connect_timeout)
        self._http = httpx.AsyncClient(base_url=self.where, headers=headers,
                                       timeout=httpx.Timeout(read, connect=connect_timeout),
                                       transport=transport)

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise _unavailable(self.where, e) from e
        if response.status_code >= 400:
            raise _error_from_body(response.status_code, response.content)
        return response.json() if response.content else None

    async def start(self, progress: Progress | None = None) -> ClientStatus:
        import httpx

        try:
            # /readyz answers in seconds (its LLM probe is bounded); don't wait an LLM timeout.
            response = await self._http.get("/readyz", timeout=self._ready_timeout)
            ready = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise _unavailable(self.where, e) from e
        if response.status_code == 401:
            raise _error_from_body(401, response.content)
        if not isinstance(ready, dict) or not ready.get("ready"):
            problem = ready.get("problem") if isinstance(ready, dict) else None
            raise ServerUnavailable(f"{self.where} is not ready: {problem or 'no index'}")
        llm = ready.get("llm")
        llm = llm if isinstance(llm, dict) else {}
        if "engine" in ready:  # the engine the server answers with by default
            engine = ready["engine"]
            if engine not in ("llm", "extractive"):
                raise PaperchatError(f"{self.where} cannot answer questions: its answer "
                                     "engine is llm but it has no LLM endpoint configured")
        else:  # a server from before /readyz named its engine
            engine = "llm" if llm.get("configured") else "extractive"
        model = llm.get("model") if engine == "llm" else ready.get("embedder")
        return ClientStatus(engine, str(model or ""), int(ready.get("papers") or 0), self.where)

    async def astream(self, question: str, *, session_id: str | None = None
                      ) -> AsyncGenerator[Event, None]:
        import httpx
        from httpx_sse import SSEError, aconnect_sse

        from rag.answer.events import EVENT

        body: dict[str, Any] = {"question": question}
        if session_id:
            body["session_id"] = session_id
        try:
            async with aconnect_sse(self._http, "POST", "/v1/ask/stream", json=body) as source:
                if source.response.status_code >= 400:
                    raise _error_from_body(source.response.status_code,
                                           await source.response.aread())
                async for sse in source.aiter_sse():
                    event = self._read(EVENT.validate_json, sse.data, "an answer event")
                    yield event
                    if event.type in ("done", "error"):
                        return
        except httpx.HTTPError as e:
            raise _unavailable(self.where, e) from e
        except SSEError as e:
            raise ServerUnavailable(f"{self.where} did not answer with an event stream "
                                    f"({e})") from e
        raise ServerUnavailable(f"{self.where}: the answer stream ended early")

    def _read(self, parse: Callable[[Any], T], data: Any, what: str) -> T:
        """`parse(data)`, or a PaperchatError naming what the server sent wrong."""
        from pydantic import ValidationError

        try:
            return parse(data)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise PaperchatError(f"{self.where} sent {what} this client cannot read "
                                 f"({where}: {first['msg']})") from e

    async def create_session(self, title: str | None = None) -> SessionInfo:
        from rag.sessions import SessionInfo

        title = " ".join((title or "").split())[:80] or None
        data = await self._request("POST", "/v1/sessions", json={"title": title})
        return self._read(SessionInfo.model_validate, data, "a session")

    async def list_sessions(self) -> list[SessionInfo]:
        from pydantic import TypeAdapter

        from rag.sessions import SessionInfo

        data = await self._request("GET", "/v1/sessions")
        items = data.get("sessions") if isinstance(data, dict) else None
        return self._read(TypeAdapter(list[SessionInfo]).validate_python, items,
                          "a session list")

    async def get_session(self, session_id: str) -> Session:
        from rag.sessions import Session

        data = await self._request("GET", f"/v1/sessions/{session_id}")
        return self._read(Session.model_validate, data, "a session")

    async def rename_session(self, session_id: str, title: str) -> None:
        try:
            await self._request("PATCH", f"/v1/sessions/{session_id}", json={"title": title})
        except PaperchatError as e:
            if isinstance(e, ServerError) and e.status == 405:  # no rename route
                raise PaperchatError("this server cannot rename sessions") from e
            raise

    async def delete_session(self, session_id: str) -> None:
        await self._request("DELETE", f"/v1/sessions/{session_id}")

    async def get_paper(self, paper_id: str) -> Paper | None:
        from rag.models import PaperDetail

        try:
            data = await self._request("GET", f"/v1/papers/{paper_id}")
            return self._read(PaperDetail.model_validate, data, "a paper").paper()
        except PaperchatError:
            return None

    async def aclose(self) -> None:
        await self._http.aclose()


def _unavailable(where: str, e: Exception) -> ServerUnavailable:
    import httpx

    if isinstance(e, httpx.TimeoutException):
        return ServerUnavailable(f"{where}: the server did not answer in time")
    if isinstance(e, httpx.ConnectError):
        return ServerUnavailable(f"cannot reach the paperchat server at {where} "
                                 "(is `paperchat serve` running?)")
    if isinstance(e, httpx.RemoteProtocolError | httpx.ReadError):  # killed mid-response
        return ServerUnavailable(f"the paperchat server at {where} closed the connection "
                                 "mid-answer (did it stop or restart?)")
    return ServerUnavailable(f"{where}: connection failed: {e}")


def _error_from_body(status: int, content: bytes) -> ServerError:
    """The server's `{"error": {"code", "message"}}` as a PaperchatError."""
    import json

    try:
        err = json.loads(content)["error"]
        message, code = str(err["message"]), str(err.get("code") or "error")
    except (ValueError, KeyError, TypeError):
        message, code = f"the server answered HTTP {status}", "http_error"
    return ServerError(message, code=code, status=status)


def make_client(settings: Settings, server: str | None = None) -> ChatClient:
    """In-process without a server URL, else HTTP to `paperchat serve`."""
    return HttpClient(server, settings) if server else InProcessClient(settings)
