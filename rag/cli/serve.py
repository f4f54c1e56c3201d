"""`rag serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import click

from rag.cli.common import load_settings

# Idle kept-alive connections are closed after this many seconds. Above the 5-15 s that
# browsers and httpx keep an idle connection, so clients close first and never race a reused
# connection against the server closing it.
KEEP_ALIVE_S = 30


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes; each loads its own model and index.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def serve(host: str, port: int, workers: int, log_level: str, access_log: bool) -> None:
    """Serve the HTTP API (/ask, /search, /v1/chat/completions, /docs, ...).

    Settings come from RAG_* environment variables; RAG_API_KEY turns on bearer-key auth.
    The model and the index load once at start-up, before the port opens.
    """
    import uvicorn

    load_settings()  # a bad RAG_* variable fails here, naming the variable
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        # httptools with a deadline and a size cap for the request head (RAG_HEADER_TIMEOUT);
        # the body's deadline is RAG_BODY_TIMEOUT, in the app (docs/api.md, "Timeouts").
        http="api.protocol:GuardedHttpToolsProtocol",
        # One process serves a few dozen concurrent clients; keep-alive saves reconnects.
        timeout_keep_alive=KEEP_ALIVE_S,
        # Graceful shutdown waits at most this long for requests in flight (an answer takes
        # tens of milliseconds; a streamed one is sent in one go).
        timeout_graceful_shutdown=10,
    )
