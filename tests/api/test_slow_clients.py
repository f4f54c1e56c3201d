"""Slow and stalled clients against a real `rag serve` (uvicorn + api/protocol.py): each is
answered 408 (or 431) and disconnected. The server runs with short RAG_HEADER_TIMEOUT and
RAG_BODY_TIMEOUT; a test only checks that the connection was dropped before a generous
deadline, never how fast."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.devserver import running_server

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 30  # far above the 1-2 s timeouts below: only "dropped at all" is asserted
STALLED_CLIENTS = 50

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("slow-clients")
    env = {
        "RAG_EMBED_BACKEND": "fake",
        "RAG_INDEX_DIR": str(work / "index"),
        "RAG_SEEDS_DIR": str(ROOT / "seeds"),
        "RAG_API_KEY": None,
        "RAG_HEADER_TIMEOUT": "1",
        "RAG_BODY_TIMEOUT": "2",
    }
    with running_server(work / "server.log", env) as base:
        yield base


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=DEADLINE_S)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails if it is still open at the
    deadline."""
    data = b""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    pytest.fail(f"the server kept a stalled connection open for {DEADLINE_S} s")


HALF_HEAD = b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-"


def test_a_silent_connection_is_dropped(server: str) -> None:
    with connect(server) as sock:
        read_until_closed(sock)


def test_half_a_request_head_gets_408_and_is_dropped(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(HALF_HEAD)
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b'"code": "request_timeout"' in reply


def test_a_stalled_body_gets_408_and_is_dropped(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"question": "Wh'
        )
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"request_timeout"' in reply and b"within 2 s" in reply


def test_a_kept_alive_connection_that_stalls_mid_request_is_dropped(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(HALF_HEAD)
        assert b"HTTP/1.1 408 " in read_until_closed(sock)


def test_an_oversized_request_head_gets_431(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 20_000)
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 431 ")


def test_many_stalled_clients_are_all_dropped_and_others_still_served(server: str) -> None:
    sockets = [connect(server) for _ in range(STALLED_CLIENTS)]
    try:
        for sock in sockets:
            sock.sendall(HALF_HEAD)
        # Meanwhile a well-behaved client is served.
        assert httpx.get(f"{server}/health", timeout=DEADLINE_S).status_code == 200
        for sock in sockets:
            read_until_closed(sock)
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(f"{server}/health", timeout=DEADLINE_S).status_code == 200


def test_a_slow_but_steady_client_is_served(server: str) -> None:
    """Headers in pieces, each well inside the deadline in total, are not cut off."""
    with connect(server) as sock:
        for piece in (b"GET /health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
            sock.sendall(piece)
            time.sleep(0.1)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
