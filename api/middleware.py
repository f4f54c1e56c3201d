"""Request body size limit, as a plain ASGI middleware."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

MAX_BODY_BYTES = 64 * 1024
# Article uploads (POST/PUT /documents): four times RAG_MAX_ARTICLE_BYTES' 2 MiB default, as
# JSON escapes can triple non-ASCII text; the article's own size is checked by the library.
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_PATH = "/documents"


class BodySizeLimit:
    """Rejects bodies over `max_bytes` with a 413 JSON error.

    The declared Content-Length is checked first; the bytes actually received are counted
    too (chunked uploads have no Content-Length, and a header can lie). Bodies here are small
    JSON documents, so the body is read up front and replayed to the app: reading it inside
    the app would turn an overflow into FastAPI's generic 400.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, upload_bytes: int = MAX_UPLOAD_BYTES
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] in ("POST", "PUT") and scope["path"].startswith(UPLOAD_PATH)
        limit = self.upload_bytes if upload else self.max_bytes
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await self._reject(scope, receive, send, 400, "Invalid Content-Length header.")
                return
            if length > limit:
                await self._reject_too_large(scope, receive, send, limit)
                return

        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._reject_too_large(scope, receive, send, limit)
                return
            parts.append(chunk)
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as usual

        await self.app(scope, replay, send)

    async def _reject_too_large(
        self, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> None:
        await self._reject(
            scope,
            receive,
            send,
            413,
            f"The request body is larger than the {limit}-byte limit.",
            "request_too_large",
        )

    @staticmethod
    async def _reject(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str,
        code: str = "invalid_request",
    ) -> None:
        # Close the connection: the rest of the oversized body is never read.
        response = error_response(status, message, code=code, headers={"Connection": "close"})
        await response(scope, receive, send)
