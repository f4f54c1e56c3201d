"""OpenAI-compatible model listing: the one model, `nato-rag`."""

from __future__ import annotations

import time

from fastapi import APIRouter

from api.errors import ModelNotFoundError
from api.schemas import MODEL_ID, ErrorResponse, ModelCard, ModelList

router = APIRouter(tags=["openai"])

STARTED = int(time.time())


def check_model(model: str) -> None:
    if model != MODEL_ID:
        raise ModelNotFoundError(
            f"The model {model!r} does not exist; this server serves "
            f"{MODEL_ID!r} (see GET /v1/models)."
        )


@router.get("/v1/models", response_model=ModelList)
async def list_models() -> ModelList:
    """OpenAI-compatible model list: the one model, `nato-rag`."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=STARTED)])


@router.get(
    "/v1/models/{model_id}",
    response_model=ModelCard,
    responses={404: {"model": ErrorResponse, "description": "Unknown model"}},
)
async def get_model(model_id: str) -> ModelCard:
    check_model(model_id)
    return ModelCard(id=MODEL_ID, created=STARTED)
