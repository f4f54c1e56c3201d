"""Where each [n] sits in an answer (rag.citations), for any answer stage's output."""

from __future__ import annotations

from rag.citations import cited_spans, paragraph_around
from rag.types import Citation


def cite(marker: int) -> Citation:
    return Citation(
        marker=marker, doc_id="a.txt", title="T", date=None, start=0, end=1, quote="x", score=1
    )


def texts(answer: str, *markers: int) -> list[str]:
    return [answer[s.start : s.end] for s in cited_spans(answer, [cite(m) for m in markers])]


def test_each_span_is_the_text_its_marker_closes() -> None:
    answer = "On July 1, 2024: It is in Wiesbaden. [1] In autumn 2024: not yet… [2]"
    assert texts(answer, 1, 2) == [
        "On July 1, 2024: It is in Wiesbaden. [1]",
        "In autumn 2024: not yet… [2]",
    ]


def test_a_marker_right_after_another_shares_its_text_and_unknown_markers_are_text() -> None:
    assert texts("Both say so. [1] [2]", 1, 2) == ["Both say so. [1]", "Both say so. [1] [2]"]
    assert texts("A list [3] item. [1]", 1) == ["A list [3] item. [1]"]
    assert texts("The articles don't say.") == []
    spans = cited_spans("Twice [1] cited [1]", [cite(1)])
    assert [s.citation.marker for s in spans] == [1, 1]


def test_paragraph_around_a_span() -> None:
    text = "First line.\n  Second para, with the quote here.  \nThird."
    start = text.index("quote")
    lo, hi = paragraph_around(text, start, start + 5)
    assert text[lo:hi] == "Second para, with the quote here."
