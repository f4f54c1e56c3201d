"""Run `rag serve` (or another HTTP service) in a child process on a free loopback port, for
end-to-end tests and benchmarks: start it, wait until /health says ready, always stop it
afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from rag.settings import PROJECT_ROOT


class ServerStartError(RuntimeError):
    """The server exited or did not become ready; the message ends with its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log_path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@dataclass(frozen=True)
class Server:
    url: str
    pid: int  # of the server process (benchmarks read its memory and open files)


@contextmanager
def running_server(
    log_path: Path,
    env: Mapping[str, str | None] | None = None,
    *,
    timeout: float = 300.0,
    extra_args: Sequence[str] = ("--no-access-log",),
) -> Iterator[str]:
    """Yield the base URL of a ready server. `env` overrides the environment; a None value
    removes a variable (e.g. RAG_API_KEY)."""
    with running_server_process(log_path, env, timeout=timeout, extra_args=extra_args) as server:
        yield server.url


@contextmanager
def running_server_process(
    log_path: Path,
    env: Mapping[str, str | None] | None = None,
    *,
    timeout: float = 300.0,
    extra_args: Sequence[str] = ("--no-access-log",),
) -> Iterator[Server]:
    """`running_server`, yielding the URL and the server's process id."""

    def command(port: int) -> list[str]:
        serve = [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1"]
        return [*serve, "--port", str(port), *extra_args]

    with running_service(command, log_path, env, timeout=timeout) as server:
        yield server


@contextmanager
def running_service(
    command: Callable[[int], Sequence[str]],
    log_path: Path,
    env: Mapping[str, str | None] | None = None,
    *,
    timeout: float = 300.0,
    name: str = "`rag serve`",
) -> Iterator[Server]:
    """Any HTTP service with a GET /health: `command(port)` started on a free loopback port,
    waited for, and always stopped (SIGINT, as uvicorn expects, then a kill)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    child_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(command(port)), cwd=PROJECT_ROOT, env=child_env, stdout=log, stderr=log
        )
        try:
            _wait_until_ready(base, proc, log_path, timeout, name)
            yield Server(base, proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_ready(
    base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float, name: str
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ServerStartError(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ServerStartError(f"{name} not ready after {timeout:.0f} s:\n{_tail(log)}")
        time.sleep(0.25)
