"""Request body size limit (server.max_upload_bytes), enforced while the body is read."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import BodyTooLarge, error_body


class BodyLimit:
    """413 when Content-Length says too much, or as soon as a streamed body goes past it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            too_large = BodyTooLarge(self.max_bytes)
            await JSONResponse(error_body("payload_too_large", str(too_large.detail)),
                               status_code=413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException, so FastAPI's body reading re-raises it untouched.
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)
