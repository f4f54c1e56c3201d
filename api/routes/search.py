"""POST /search: ranked passages, no answer."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PipelineDep, SettingsDep, run_cpu
from api.schemas import SearchHit, SearchRequest, SearchResponse
from rag.pipeline import validate_question

router = APIRouter(tags=["rag"])


@router.post("/search", response_model=SearchResponse)
async def search(
    body: SearchRequest, pipeline: PipelineDep, settings: SettingsDep
) -> SearchResponse:
    """The passages ranked for a query, with their character offsets (no answer)."""
    query = validate_question(body.query, settings)
    passages = await run_cpu(pipeline.search, query, body.top_k)
    docs = pipeline.index.documents
    return SearchResponse(
        query=query,
        passages=[
            SearchHit(rank=rank, title=docs[p.doc_id].title, **p.model_dump())
            for rank, p in enumerate(passages, start=1)
        ],
    )
