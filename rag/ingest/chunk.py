"""Sentence-window chunking: windows of sentences overlapping by a few, never crossing junk."""

from __future__ import annotations

from collections.abc import Iterable

from rag.ingest.sentences import prose_regions, sentences_of
from rag.types import Chunk, Document, Sentence


def chunk_sentences(
    doc: Document, sentences: list[Sentence], size: int, overlap: int, first_id: int = 0
) -> list[Chunk]:
    """Windows of `size` sentences sharing `overlap` with the next, never crossing junk."""
    if overlap >= size:
        raise ValueError("chunk overlap must be smaller than chunk size")
    stride = size - overlap
    chunks: list[Chunk] = []
    for group in _groups_by_region(doc, sentences):
        starts = range(0, max(len(group) - overlap, 1), stride)
        for i in starts:
            window = group[i : i + size]
            start, end = window[0].start, window[-1].end
            chunks.append(
                Chunk(
                    chunk_id=first_id + len(chunks),
                    doc_id=doc.doc_id,
                    start=start,
                    end=end,
                    text=doc.text[start:end],
                    sentence_ids=tuple(s.sent_id for s in window),
                )
            )
    return chunks


def _groups_by_region(doc: Document, sentences: Iterable[Sentence]) -> list[list[Sentence]]:
    groups: dict[int, list[Sentence]] = {}
    regions = prose_regions(doc)
    for sentence in sentences:
        for index, region in enumerate(regions):
            if region.start <= sentence.start < region.end:
                groups.setdefault(index, []).append(sentence)
                break
    return [groups[k] for k in sorted(groups)]


def chunk_corpus(
    docs: list[Document], size: int, overlap: int
) -> tuple[list[Sentence], list[Chunk]]:
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    for doc in docs:
        doc_sentences = sentences_of(doc, first_id=len(sentences))
        sentences.extend(doc_sentences)
        chunks.extend(chunk_sentences(doc, doc_sentences, size, overlap, first_id=len(chunks)))
    return sentences, chunks
