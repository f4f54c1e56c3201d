"""HTML pages through trafilatura: the main text (the text that is stored and cited) and
the page's own metadata (title, date, author, site name)."""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import InvalidArticleError


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str  # paragraphs separated by a blank line
    title: str | None = None
    date: str | None = None  # ISO date
    authors: tuple[str, ...] = ()
    site_name: str | None = None


def extract_html(html: str) -> Extracted:
    """The article in an HTML page; InvalidArticleError when it has no article text."""
    import trafilatura  # lxml and its language data: only when an HTML page comes in

    found = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, favor_precision=True
    )
    if found is None:
        raise InvalidArticleError("The HTML page has no article text that could be extracted.")
    data = found.as_dict() if hasattr(found, "as_dict") else dict(found)
    lines = [line.strip() for line in (data.get("text") or "").splitlines() if line.strip()]
    if not lines:
        raise InvalidArticleError("The HTML page has no article text that could be extracted.")
    authors = tuple(a.strip() for a in (data.get("author") or "").split(";") if a.strip())
    return Extracted(
        text="\n\n".join(lines) + "\n",
        title=data.get("title") or None,
        date=data.get("date") or None,
        authors=authors,
        site_name=data.get("sitename") or None,
    )
