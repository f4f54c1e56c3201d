"""uvicorn's HTTP protocol with a deadline for the request head (`rag serve` uses it).

uvicorn drops an idle kept-alive connection after `timeout_keep_alive`, but a connection
that sends part of a request line or of its headers, then nothing, stays open forever
(httptools and h11 alike): 500 such clients held 500 connections past a minute. This
subclass arms a timer when a connection opens and when the next request on it begins, and
disarms it once the headers are complete; if it fires, the client gets a 408 with the JSON
error shape and the connection is closed. The head is also capped in size (431). A stalled
*body* is the business of api/middleware.py (RAG_BODY_TIMEOUT), which can answer inside the
app. Tested against a real server in tests/api/test_slow_clients.py.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rag.settings import Settings

# The request line and headers of our clients fit in a few hundred bytes; 16 KiB is what
# Node.js allows (its --max-http-header-size default) and twice nginx's usual 8 KiB buffer.
MAX_HEAD_BYTES = 16 * 1024


@functools.cache
def header_timeout() -> float:
    """RAG_HEADER_TIMEOUT of this worker process (the default if the settings are invalid:
    the app then reports why on every endpoint)."""
    try:
        return Settings().header_timeout
    except Exception:
        return float(Settings.model_fields["header_timeout"].default)


def _error(status: int, reason: str, message: str, code: str) -> bytes:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "code": code,
                "param": None,
            }
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol plus a request-head deadline and size cap (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._in_head = True  # between connect / message begin and headers complete

    # --- timer ------------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(header_timeout(), self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, response: bytes) -> None:
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        seconds = f"{header_timeout():g}"
        self.logger.info("dropped a client that sent no complete request head in %s s", seconds)
        self._refuse(
            _error(
                408,
                "Request Timeout",
                f"The request line and headers did not arrive within {seconds} s.",
                "request_timeout",
            )
        )

    # --- protocol callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(
                _error(
                    431,
                    "Request Header Fields Too Large",
                    f"The request line and headers are over {MAX_HEAD_BYTES} bytes.",
                    "headers_too_large",
                )
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True  # bytes are counted from the end of the previous response
        if self._head_timer is None:  # a kept-alive connection's next request
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle now: uvicorn's keep-alive timer runs until the next request begins.
        self._in_head, self._head_bytes = True, 0
