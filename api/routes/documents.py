"""Articles: listing and lookup (with a cited span shown inside its paragraph), and adding,
updating and deleting them. Writes go through `Service.write`, which swaps in the new
pipeline, so the next request already sees the change."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import PipelineDep, ServiceDep, require_write_access, run_cpu
from api.schemas import (
    DocumentDetail,
    DocumentIn,
    DocumentSummary,
    DocumentWritten,
    ErrorResponse,
    SpanInContext,
    TextRange,
)
from rag.citations import paragraph_around
from rag.errors import InvalidArticleError, InvalidSpanError, UnknownDocumentError
from rag.pipeline import Pipeline
from rag.store.library import NewArticle, WriteResult
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
        authors=list(doc.authors),
        updated=doc.updated,
        source="library" if doc.source == "library" else "seed",
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


_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (403, "Writes need RAG_API_KEY (or RAG_ALLOW_UNAUTHENTICATED_WRITES)"),
        (413, "Article over RAG_MAX_ARTICLE_BYTES"),
        (422, "Empty, binary or undecodable article, bad id or date"),
    )
}
_UPLOAD: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorResponse, "description": "Neither JSON nor a multipart upload"}
}
# Both bodies, for the OpenAPI page: JSON, or a file upload with the same fields as form data.
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/DocumentIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        **{f: {"type": "string"} for f in ("doc_id", "title", "date", "outlet")},
                        "format": {"type": "string", "enum": ["text", "html"]},
                    },
                }
            },
        },
    }
}


async def _article(request: Request) -> NewArticle:
    """The article in a JSON body or a multipart file upload."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/json")):
        raise HTTPException(
            415,
            "Send the article as JSON (Content-Type: application/json) or as a multipart "
            "upload (multipart/form-data, field 'file').",
        )
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidArticleError("Upload the article as a form field named 'file'.")
        fields = {k: v for k, v in form.items() if isinstance(v, str) and v}
        fmt = fields.get("format")
        if fmt not in (None, "text", "html"):
            raise InvalidArticleError("format must be 'text' or 'html'.")
        return NewArticle(
            data=await upload.read(),
            format="html" if fmt == "html" else ("text" if fmt == "text" else None),
            doc_id=fields.get("doc_id"),
            filename=upload.filename,
            title=fields.get("title"),
            date=fields.get("date"),
            outlet=fields.get("outlet"),
        )
    try:
        body = DocumentIn.model_validate(json.loads(await request.body()))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "", "ctx": {"error": reason}}]
        ) from exc
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from exc
    try:
        data = body.text.encode("utf-8")
    except UnicodeEncodeError as exc:  # "\ud800" in JSON: a lone surrogate is no text
        raise InvalidArticleError(f"The text is not valid Unicode ({exc.reason}).") from exc
    return NewArticle(
        data, body.format, body.doc_id, None, title=body.title, date=body.date, outlet=body.outlet
    )


def _written(result: WriteResult) -> DocumentWritten:
    doc = result.documents[0]
    return DocumentWritten(
        doc_id=doc.doc_id,
        title=doc.title,
        outlet=doc.outlet,
        date=doc.date,
        index_version=result.index.version,
    )


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentWritten,
    dependencies=[Depends(require_write_access)],
    responses={
        409: {"model": ErrorResponse, "description": "The id exists"},
        **_WRITE_ERRORS,
        **_UPLOAD,
    },
    openapi_extra=_BODY,
)
async def create_document(
    request: Request, response: Response, service: ServiceDep
) -> DocumentWritten:
    """Add an article (JSON `{"text", "doc_id"?, "title"?, "date"?, "outlet"?, "format"?}` or a
    file upload); answerable as soon as this returns."""
    article = await _article(request)
    result = await run_cpu(service.write, lambda library: library.add([article]))
    response.headers["Location"] = f"/documents/{result.doc_ids[0]}"
    return _written(result)


@router.put(
    "/documents/{doc_id}",
    response_model=DocumentWritten,
    dependencies=[Depends(require_write_access)],
    responses={
        404: {"model": ErrorResponse, "description": "Unknown document"},
        **_WRITE_ERRORS,
        **_UPLOAD,
    },
    openapi_extra=_BODY,
)
async def update_document(doc_id: str, request: Request, service: ServiceDep) -> DocumentWritten:
    """Replace an article's text (and given metadata); offsets then refer to the new text."""
    article = await _article(request)
    result = await run_cpu(service.write, lambda library: library.update(doc_id, article))
    return _written(result)


@router.delete(
    "/documents/{doc_id}",
    status_code=204,
    dependencies=[Depends(require_write_access)],
    responses={
        404: {"model": ErrorResponse, "description": "Unknown document"},
        409: {"model": ErrorResponse, "description": "It is the last article"},
        **_WRITE_ERRORS,
    },
)
async def delete_document(doc_id: str, service: ServiceDep) -> Response:
    """Delete an article: /ask, /search, chat and /documents stop returning it at once."""
    await run_cpu(service.write, lambda library: library.remove([doc_id]))
    return Response(status_code=204)
