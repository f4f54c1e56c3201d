"""What every store keeps of an article besides its text and vectors, and how vectors are
encoded at build time: shared by the file store (`rag.store.index`) and the PostgreSQL one
(`rag.store.pgvector`), so both read and write the same metadata."""

from __future__ import annotations

from typing import Any

import numpy as np

from rag.embed import Embedder
from rag.ingest.sources import Source
from rag.progress import Reporter
from rag.settings import Settings
from rag.types import Document, Role, RoleSpan, Span

_META_FIELDS = ("title", "outlet", "date", "sort_date", "date_note", "authors", "updated")


def document_meta(doc: Document) -> dict[str, Any]:
    """What a store keeps of a document besides its text (records.json in the file store, the
    documents table in pgvector)."""
    meta: dict[str, Any] = {f: getattr(doc, f) for f in _META_FIELDS}
    meta["roles"] = [[r.start, r.end, r.role.value] for r in doc.roles]
    return meta


def document_from_meta(source: Source, meta: dict[str, Any], indexed: frozenset[Role]) -> Document:
    return document_from_record(
        source.doc_id, source.text, source.sha256, source.origin, meta, indexed
    )


def document_from_record(
    doc_id: str,
    text: str,
    sha256: str,
    origin: str,
    meta: dict[str, Any],
    indexed: frozenset[Role],
) -> Document:
    """A document from its stored text and metadata (`document_meta`)."""
    roles = tuple(RoleSpan(s, e, Role(r)) for s, e, r in meta["roles"])
    return Document(
        doc_id=doc_id,
        text=text,
        title=meta["title"],
        outlet=meta["outlet"],
        date=meta["date"],
        sort_date=meta["sort_date"],
        date_note=meta["date_note"],
        junk=tuple(Span(r.start, r.end) for r in roles if r.role not in indexed),
        sha256=sha256,
        authors=tuple(meta["authors"]),
        updated=meta["updated"],
        roles=roles,
        source=origin,
    )


def encode_texts(
    embedder: Embedder, texts: list[str], settings: Settings, label: str, reporter: Reporter
) -> np.ndarray:
    """Vectors in the order of `texts`, encoded in length-sorted batches: a batch pads to its
    longest text, so mixing lengths wastes most of the work (2.4x, docs/performance.md)."""
    batch = settings.embed_batch_size
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    reporter.progress(f"embedding {label}", 0, len(texts))
    for i in range(0, len(order), batch):
        ids = order[i : i + batch]
        out[ids] = embedder.encode([texts[j] for j in ids], batch_size=batch)
        reporter.progress(f"embedding {label}", min(i + batch, len(texts)), len(texts))
    return out
