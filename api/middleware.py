"""Request body size and time limits, as a plain ASGI middleware."""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

MAX_BODY_BYTES = 64 * 1024
# nginx's name for "the client closed the connection before the response" (never sent: only
# the metrics see it, as a 4xx rather than the 500 they assume when no response starts).
CLIENT_CLOSED = 499
# Article uploads (POST/PUT /documents): four times RAG_MAX_ARTICLE_BYTES' 2 MiB default, as
# JSON escapes can triple non-ASCII text; the article's own size is checked by the library.
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_PATH = "/documents"


class BodySizeLimit:
    """Rejects bodies over `max_bytes` with a 413 JSON error.

    The declared Content-Length is checked first; the bytes actually received are counted
    too (chunked uploads have no Content-Length, and a header can lie). A body that has not
    arrived in full within `body_timeout` seconds gets a 408 (a stalled upload would hold its
    connection forever otherwise: uvicorn has no body read timeout). Bodies here are small
    JSON documents, so the body is read up front and replayed to the app: reading it inside
    the app would turn an overflow into FastAPI's generic 400.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        body_timeout: float = 20.0,
        upload_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
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
        with anyio.move_on_after(self.body_timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    # The client is gone mid-body. Nothing reaches it, but the metrics
                    # middleware outside sees this status instead of counting a 500.
                    await self._reject(
                        scope, receive, send, CLIENT_CLOSED, "Client closed the request.",
                        "client_closed_request",
                    )  # fmt: skip
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await self._reject_too_large(scope, receive, send, limit)
                    return
                parts.append(chunk)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            await self._reject(
                scope,
                receive,
                send,
                408,
                f"The request body did not arrive within {self.body_timeout:g} s.",
                "request_timeout",
            )
            return

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


# One policy for every response. The page (api/static) and /docs load scripts, styles and
# images only from this origin and run no inline script or style; data: images are Swagger
# UI's icons. frame-ancestors (and X-Frame-Options for older browsers) forbid framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds the browser hardening headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustedHosts:
    """Refuses requests whose Host header is not in `allowed` (RAG_ALLOWED_HOSTS), with the
    JSON error shape: Starlette's TrustedHostMiddleware, which answers in plain text, does
    the same matching ("example.org", "*.example.org", "*" for any)."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.any = "*" in allowed
        self.exact = {h.lower() for h in allowed if not h.startswith("*")}
        self.suffixes = tuple(h[1:].lower() for h in allowed if h.startswith("*."))

    def allows(self, host: str) -> bool:
        name = host.split(":")[0].lower() if not host.startswith("[") else host.split("]")[0] + "]"
        return name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers", ())).get(b"host", b"").decode("latin-1")
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        response = error_response(
            400, "Invalid Host header: this server does not serve that host name.",
            code="invalid_host",
        )  # fmt: skip
        await response(scope, receive, send)
