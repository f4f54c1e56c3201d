"""Sentence segmentation with exact character spans (pysbd, plus a guard for titles)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import pysbd

from rag.text.wordlists import TITLE_ABBREVIATIONS
from rag.types import INDEXED_ROLES, Document, Role, RoleSpan, Sentence, Span

# pysbd keeps "U.S.", "Gen.", "Dec." intact but splits after some titles before a name.
_TITLE_ABBREVIATION = re.compile(rf"\b(?:{'|'.join(TITLE_ABBREVIATIONS)})\.\s*$")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def prose_regions(doc: Document) -> list[Span]:
    """Regions that are indexed: maximal runs of lines of one indexed role (body, byline,
    author's note), so a chunk never mixes a byline with the prose; without roles, the text
    between junk spans."""
    return [region for region, _role in role_regions(doc)]


def role_regions(doc: Document) -> list[tuple[Span, Role]]:
    if not doc.roles:
        return [(region, Role.BODY) for region in _between_junk(doc)]
    out: list[tuple[Span, Role]] = []
    previous: RoleSpan | None = None
    excluded = {(j.start, j.end) for j in doc.junk}
    for span in doc.roles:
        if span.role not in INDEXED_ROLES or (span.start, span.end) in excluded:
            previous = None
            continue
        # a region is a run of adjacent lines of one role: a list item's marker between two
        # lines parts them, so no quoted sentence or chunk has a marker inside
        if (
            previous is not None
            and previous.role is span.role
            and not doc.text[previous.end : span.start].strip()
        ):
            out[-1] = (Span(out[-1][0].start, span.end), span.role)
        else:
            out.append((Span(span.start, span.end), span.role))
        previous = span
    return out


def _between_junk(doc: Document) -> list[Span]:
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
    for region, role in role_regions(doc):
        for para in _paragraph_spans(doc.text, region):
            for span in split_sentences(doc.text[para.start : para.end], para.start):
                out.append(
                    Sentence(
                        first_id + len(out),
                        doc.doc_id,
                        span.start,
                        span.end,
                        doc.text[span.start : span.end],
                        role,
                    )
                )
    return out
