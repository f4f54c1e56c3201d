"""HTTP API over the `rag` library: the app factory and its lifespan.

Run with `rag serve` (or `uvicorn api.app:create_app --factory`). The model and the index load
once, in the lifespan; if loading fails the server still starts and every endpoint answers
503 with the reason, so a supervisor sees why instead of a crash loop. Routes live in
`api/routes/` (one module per resource), shared dependencies in `api/deps.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter
from prometheus_fastapi_instrumentator import Instrumentator

from api.deps import ERRORS, Service, require_api_key, watch_index
from api.errors import install_error_handlers
from api.middleware import MAX_BODY_BYTES, BodySizeLimit
from api.routes import ask, chat, documents, health, models, responses, search
from rag import __version__
from rag.pipeline import Pipeline
from rag.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    service: Service = app.state.service
    if service.pipeline is None:  # in a worker thread: loading takes seconds
        await anyio.to_thread.run_sync(service.load)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch_index, service)  # builds made by `rag add` in another process
        yield
        tasks.cancel_scope.cancel()


def create_app(
    *,
    settings: Settings | None = None,
    pipeline: Pipeline | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    static_dir: Path = STATIC_DIR,
) -> FastAPI:
    """The app. By default it reads RAG_* settings and loads the pipeline at start-up; pass
    `settings` to use others, or a loaded `pipeline` (with its settings) to load nothing."""
    app = FastAPI(
        title="NATO aid to Ukraine: cited answers",
        version=__version__,
        summary="Extractive, cited question answering over five news articles.",
        lifespan=lifespan,
    )
    app.state.service = Service(
        settings=pipeline.settings if pipeline is not None else settings, pipeline=pipeline
    )
    install_error_handlers(app)

    registry = CollectorRegistry()
    app.state.answers = Counter(
        "rag_answers",
        "Answers given, by endpoint and abstention",
        ["endpoint", "abstained"],
        registry=registry,
    )
    app.include_router(health.router)
    for resource in (ask, search, documents, models, chat, responses):
        app.include_router(
            resource.router, dependencies=[Depends(require_api_key)], responses=ERRORS
        )

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        page = static_dir / "index.html"
        if page.is_file():
            return FileResponse(page)
        return RedirectResponse("/docs")

    if static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=static_dir), name="static")

    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    # Added last, so outermost: 401/413/422 responses are counted too.
    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app, tags=["ops"], dependencies=[Depends(require_api_key)]
    )
    return app
