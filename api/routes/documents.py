"""Article listing and lookup, with a cited span shown inside its paragraph."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PipelineDep
from api.schemas import DocumentDetail, DocumentSummary, ErrorResponse, SpanInContext, TextRange
from rag.citations import paragraph_around
from rag.errors import InvalidSpanError, UnknownDocumentError
from rag.pipeline import Pipeline
from rag.types import Document

router = APIRouter(tags=["documents"])


def _summary(doc: Document, chunk_count: int) -> DocumentSummary:
    return DocumentSummary(
        doc_id=doc.doc_id,
        title=doc.title,
        outlet=doc.outlet,
        date=doc.date,
        sort_date=doc.sort_date,
        date_note=doc.date_note,
        length=len(doc.text),
        chunk_count=chunk_count,
    )


def _chunk_counts(pipeline: Pipeline) -> Counter[str]:
    return Counter(chunk.doc_id for chunk in pipeline.index.chunks)


def document_summaries(pipeline: Pipeline) -> list[DocumentSummary]:
    counts = _chunk_counts(pipeline)
    return [
        _summary(doc, counts[doc.doc_id])
        for doc in sorted(pipeline.index.documents.values(), key=lambda d: d.doc_id)
    ]


def check_span(start: int | None, end: int | None, length: int) -> tuple[int, int] | None:
    if start is None and end is None:
        return None
    # Either bound alone runs to the article's edge, as the schema's optional params say.
    start = 0 if start is None else start
    end = length if end is None else end
    if start < 0 or end < 0:
        raise InvalidSpanError(f"Span offsets must not be negative (got {start}-{end}).")
    if start >= end:
        raise InvalidSpanError(f"Span start must be before its end (got {start}-{end}).")
    if end > length:
        raise InvalidSpanError(
            f"Span {start}-{end} is out of range: the article has {length} characters."
        )
    return start, end


def document_detail(
    pipeline: Pipeline, doc_id: str, start: int | None = None, end: int | None = None
) -> DocumentDetail:
    doc = pipeline.index.documents.get(doc_id)
    if doc is None:
        raise UnknownDocumentError(f"Unknown document {doc_id!r}: GET /documents lists them.")
    span = check_span(start, end, len(doc.text))
    summary = _summary(doc, _chunk_counts(pipeline)[doc_id])
    in_context = None
    if span is not None:
        s, e = span
        p_start, p_end = paragraph_around(doc.text, s, e)
        in_context = SpanInContext(
            start=s,
            end=e,
            text=doc.text[s:e],
            paragraph=TextRange(start=p_start, end=p_end, text=doc.text[p_start:p_end]),
        )
    return DocumentDetail(**summary.model_dump(), text=doc.text, span=in_context)


@router.get("/documents", response_model=list[DocumentSummary])
async def list_documents(pipeline: PipelineDep) -> list[DocumentSummary]:
    """The articles in the index."""
    return document_summaries(pipeline)


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentDetail,
    responses={
        404: {"model": ErrorResponse, "description": "Unknown document"},
        422: {"model": ErrorResponse, "description": "Span outside the article, or empty"},
    },
)
async def get_document(
    doc_id: str,
    pipeline: PipelineDep,
    start: Annotated[
        int | None, Query(ge=0, description="Span start (character offset; default 0)")
    ] = None,
    end: Annotated[
        int | None, Query(ge=0, description="Span end, exclusive (default: the article's end)")
    ] = None,
) -> DocumentDetail:
    """An article's full text; with `start` and/or `end`, also that span and its paragraph.
    A span must be non-empty and inside the article (422 invalid_span otherwise)."""
    return document_detail(pipeline, doc_id, start, end)
