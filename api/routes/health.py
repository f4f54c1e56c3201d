"""GET /health: ready (200) once loaded, 503 with a reason code otherwise. Public.

With RAG_API_KEY set, an unauthenticated caller learns only the status and the reason code;
the details (model, index, what failed and where) go to the log and to callers that send the
key. Without a key, the ready report is the full one (it names no files either way)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth import is_authenticated
from api.deps import ServiceDep, not_ready
from api.errors import ServiceUnavailableError, error_code, error_type
from api.schemas import ErrorBody, Health, HealthStatus, HealthUnavailable
from rag import __version__
from rag.errors import StoreUnavailableError

router = APIRouter(tags=["ops"])


@router.get(
    "/health",
    response_model=Health | HealthStatus,
    responses={503: {"model": HealthUnavailable, "description": "Not ready (reason code)"}},
)
async def health(request: Request, service: ServiceDep) -> Health | HealthStatus | JSONResponse:
    """Ready (200) once the model and the index are loaded; 503 with a reason code if not.
    With RAG_API_KEY set, the details only for a caller that sends the key."""
    settings, pipeline = service.settings, service.pipeline
    trusted = is_authenticated(request)
    exc: ServiceUnavailableError | None = None
    if pipeline is None:
        exc = not_ready(service)
    elif pipeline.store.shared:
        # Ready means the database answers too.
        try:
            await anyio.to_thread.run_sync(pipeline.store.live_version)
        except StoreUnavailableError as unavailable:
            exc = ServiceUnavailableError(error_code(unavailable), str(unavailable))
    if exc is not None:
        message = exc.detailed() if trusted else str(exc)
        error = ErrorBody(message=message, type=error_type(503), code=error_code(exc))
        body = HealthUnavailable(error=error, reason=exc.reason)
        return JSONResponse(body.model_dump(), status_code=503)
    assert pipeline is not None
    if settings is not None and settings.api_key and not trusted:
        return HealthStatus(status="ok")
    manifest = pipeline.index.manifest
    return Health(
        status="ok",
        rag_version=__version__,
        model_id=pipeline.embedder.model_id,
        embed_backend=pipeline.settings.embed_backend,
        store=pipeline.store.name,
        documents=len(pipeline.index.documents),
        chunks=len(pipeline.index.chunks),
        sentences=len(pipeline.index.sentences),
        index_type=manifest.get("index", {}).get("type"),
        index_version=pipeline.index.version,
        index_built_at=manifest.get("built_at"),
        index_rag_version=manifest.get("rag_version"),
        load_seconds=service.load_seconds,
    )
