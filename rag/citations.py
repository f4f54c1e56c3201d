"""Where each citation sits in an answer, and where its quote sits in its article.

An answer reads "First sentence. [1] Second sentence. [2]": each `[n]` closes the text it
supports. `cited_spans` turns that into character spans of the answer (what the OpenAI
`url_citation` annotations and the Responses API need); `paragraph_around` finds the
paragraph holding a quote (for showing a passage in context). Offsets are Python string
offsets (code points). Reads only `Answer.answer` and `Answer.citations`, whatever stage
produced them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.types import Citation

_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class CitedSpan:
    """`answer[start:end]` is the text that `citation` supports, its `[n]` marker included."""

    start: int
    end: int
    citation: Citation


def cited_spans(answer: str, citations: Sequence[Citation]) -> list[CitedSpan]:
    """One span per `[n]` in `answer` that names a citation, in reading order.

    A span runs from the end of the previous marker (leading whitespace skipped) to the end
    of its own marker. A marker right after another one ("... [1] [2]") shares the previous
    marker's text. Markers naming no citation are text, not markers.
    """
    by_marker = {c.marker: c for c in citations}
    spans: list[CitedSpan] = []
    text_start = 0  # where the text after the last marker begins
    last_start = 0  # start of the last span, for markers with no text of their own
    for match in _MARKER.finditer(answer):
        citation = by_marker.get(int(match.group(1)))
        if citation is None:
            continue
        start = text_start
        while start < match.start() and answer[start].isspace():
            start += 1
        if start == match.start() and spans:
            start = last_start
        spans.append(CitedSpan(start, match.end(), citation))
        last_start, text_start = start, match.end()
    return spans


def paragraph_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the paragraph(s) holding text[start:end]: the articles put one paragraph
    per line, so a paragraph runs between line breaks (surrounding spaces trimmed)."""
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    hi = len(text) if hi == -1 else hi
    while lo < start and text[lo].isspace():
        lo += 1
    while hi > end and text[hi - 1].isspace():
        hi -= 1
    return lo, hi
