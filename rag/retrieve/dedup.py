"""Collapse overlapping or near-identical passages: the best of each stays."""

from __future__ import annotations

from collections.abc import Sequence

from rag.text import content_terms, jaccard
from rag.types import Chunk, Passage

# Same document: passages sharing more than this share of the shorter span are one passage.
SPAN_OVERLAP = 0.6
# Across documents: term sets at least this similar are the same text (syndicated copy).
SAME_TEXT_JACCARD = 0.85


def near_duplicate(
    a: Chunk,
    b: Chunk,
    threshold: float = SPAN_OVERLAP,
    terms: tuple[set[str], set[str]] | None = None,
) -> bool:
    """Same span mostly shared, or (across documents) almost the same words."""
    if a.doc_id == b.doc_id:
        shared = min(a.end, b.end) - max(a.start, b.start)
        return shared > threshold * min(a.end - a.start, b.end - b.start)
    ta, tb = terms or (set(content_terms(a.text)), set(content_terms(b.text)))
    return jaccard(ta, tb) >= SAME_TEXT_JACCARD


def collapse(
    fused: list[tuple[int, float]],
    chunks: Sequence[Chunk],
    chunk_terms: Sequence[set[str]],
    top_k: int,
) -> list[Passage]:
    """Best-first passages, dropping near-duplicates of a passage already kept."""
    kept: list[Chunk] = []
    out: list[Passage] = []
    for chunk_id, score in fused:
        chunk = chunks[chunk_id]
        if any(
            near_duplicate(chunk, other, terms=(chunk_terms[chunk_id], chunk_terms[other.chunk_id]))
            for other in kept
        ):
            continue
        kept.append(chunk)
        out.append(
            Passage(
                doc_id=chunk.doc_id,
                start=chunk.start,
                end=chunk.end,
                text=chunk.text,
                score=round(score, 6),
                chunk_id=chunk.chunk_id,
            )
        )
        if len(out) == top_k:
            break
    return out
