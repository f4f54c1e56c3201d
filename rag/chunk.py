"""Sentence segmentation with character spans, and sentence-window chunking."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

import pysbd

from rag.text import TITLE_ABBREVIATIONS
from rag.types import Chunk, Document, Sentence, Span

# pysbd keeps "U.S.", "Gen.", "Dec." intact but splits after some titles before a name.
_TITLE_ABBREVIATION = re.compile(rf"\b(?:{'|'.join(TITLE_ABBREVIATIONS)})\.\s*$")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def prose_regions(doc: Document) -> list[Span]:
    """Maximal regions of the text between junk spans."""
    regions = []
    cursor = 0
    for junk in sorted(doc.junk, key=lambda s: s.start):
        if junk.start > cursor:
            regions.append(Span(cursor, junk.start))
        cursor = max(cursor, junk.end)
    if cursor < len(doc.text):
        regions.append(Span(cursor, len(doc.text)))
    return [r for r in regions if doc.text[r.start : r.end].strip()]


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans in `text` (shifted by `offset`), trimmed of surrounding white space.

    pysbd finds the boundaries; spans are recovered by searching forward from the previous
    sentence, so they are exact even when a sentence repeats.
    """
    spans: list[Span] = []
    cursor = 0
    # Line breaks inside a rejoined paragraph are not sentence ends; spaces keep offsets.
    flat = text.replace("\r", " ").replace("\n", " ")
    for piece in _segmenter().segment(flat):
        body = piece.strip()
        if not body:
            continue
        found = flat.find(body, cursor)
        if found < 0:  # pysbd never rewrites text with clean=False; guard anyway
            continue
        spans.append(Span(found, found + len(body)))
        cursor = found + len(body)
    merged: list[Span] = []
    for span in spans:
        if merged and _TITLE_ABBREVIATION.search(flat[merged[-1].start : merged[-1].end]):
            merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return [Span(s.start + offset, s.end + offset) for s in merged]


def _paragraph_spans(text: str, region: Span) -> Iterator[Span]:
    """Paragraphs inside a region; a paragraph broken mid-sentence is rejoined."""
    body = text[region.start : region.end]
    start = None
    pos = region.start
    for raw in body.splitlines(keepends=True):
        line_end = pos + len(raw.rstrip("\r\n"))
        if raw.strip():
            start = pos if start is None else start
            nxt = text[pos + len(raw) : region.end].lstrip()
            ends_sentence = bool(re.search(r"[.!?…\"”’)]\s*$", raw.rstrip("\r\n")))
            if ends_sentence or not nxt or not nxt[0].islower():
                yield Span(start, line_end)
                start = None
        pos += len(raw)
    if start is not None:
        yield Span(start, region.end)


def sentences_of(doc: Document, first_id: int = 0) -> list[Sentence]:
    out: list[Sentence] = []
    for region in prose_regions(doc):
        for para in _paragraph_spans(doc.text, region):
            for span in split_sentences(doc.text[para.start : para.end], para.start):
                out.append(
                    Sentence(
                        first_id + len(out),
                        doc.doc_id,
                        span.start,
                        span.end,
                        doc.text[span.start : span.end],
                    )
                )
    return out


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
