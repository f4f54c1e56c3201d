"""HTTP API over the `rag` library: the app factory and its lifespan.

Run with `rag serve` (or `uvicorn api.app:create_app --factory`). The model and the index load
once, in the lifespan; if loading fails the server still starts and every endpoint answers
503 with a reason code, so a supervisor sees why instead of a crash loop. Routes live in
`api/routes/` (one module per resource), shared dependencies in `api/deps.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter
from prometheus_fastapi_instrumentator import Instrumentator
from pydantic import ValidationError

from api.deps import ERRORS, Service, require_api_key, watch_index
from api.docs import install_docs
from api.errors import install_error_handlers
from api.middleware import MAX_BODY_BYTES, BodySizeLimit, SecurityHeaders, TrustedHosts
from api.openapi import install_openapi
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
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch_index, service)  # builds made by `rag add` elsewhere
            yield
            tasks.cancel_scope.cancel()
    finally:
        if service.pipeline is not None:
            service.pipeline.store.close()  # a database store's connection pool


def _environment_settings() -> Settings | None:
    """RAG_* settings, or None if they are invalid (the lifespan then records why)."""
    try:
        return Settings()
    except ValidationError:
        return None


def create_app(
    *,
    settings: Settings | None = None,
    pipeline: Pipeline | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    static_dir: Path = STATIC_DIR,
) -> FastAPI:
    """The app. By default it reads RAG_* settings and loads the pipeline at start-up; pass
    `settings` to use others, or a loaded `pipeline` (with its settings) to load nothing."""
    if pipeline is not None:
        settings = pipeline.settings
    elif settings is None:
        settings = _environment_settings()
    app = FastAPI(
        title="NATO aid to Ukraine: cited answers",
        version=__version__,
        summary="Extractive, cited question answering over five news articles.",
        lifespan=lifespan,
        docs_url=None,  # served offline by api/docs.py
        redoc_url=None,
    )
    app.state.service = Service(settings=settings, pipeline=pipeline)
    install_error_handlers(app)
    install_openapi(app, settings)
    install_docs(app)

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

    defaults = Settings.model_fields
    body_timeout = settings.body_timeout if settings else defaults["body_timeout"].default
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, body_timeout=body_timeout)
    # Added after the body limit, so outside it: 401/408/413/422 responses are counted too.
    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app,
        tags=["ops"],
        dependencies=[Depends(require_api_key)],
        response_class=PlainTextResponse,
        responses={
            200: {"description": "Prometheus text format"},
            **{status: ERRORS[status] for status in (401, 503)},
        },
        summary="Prometheus metrics",
    )
    # Outermost: a refused host is not counted; every response gets the security headers.
    app.add_middleware(TrustedHosts, allowed=settings.allowed_hosts if settings else ["*"])
    app.add_middleware(SecurityHeaders)
    return app
