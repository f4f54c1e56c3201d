"""GET /health: ready (200) once loaded, 503 with the reason otherwise. Public."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PipelineDep, ServiceDep
from api.schemas import ErrorResponse, Health
from rag import __version__

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=Health, responses={503: {"model": ErrorResponse}})
async def health(service: ServiceDep, pipeline: PipelineDep) -> Health:
    """Ready (200) once the model and the index are loaded; 503 with the reason if not."""
    manifest = pipeline.index.manifest
    return Health(
        status="ok",
        rag_version=__version__,
        model_id=pipeline.embedder.model_id,
        embed_backend=pipeline.settings.embed_backend,
        documents=len(pipeline.index.documents),
        chunks=len(pipeline.index.chunks),
        sentences=len(pipeline.index.sentences),
        index_type=manifest.get("index", {}).get("type"),
        index_version=pipeline.index.path.name,
        index_built_at=manifest.get("built_at"),
        index_rag_version=manifest.get("rag_version"),
        load_seconds=service.load_seconds,
    )
