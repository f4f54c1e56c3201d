"""`rag serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import click

from rag.cli.common import load_settings


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
        # One process serves a few dozen concurrent clients; keep-alive saves reconnects.
        timeout_keep_alive=30,
    )
