"""Citations in the shapes existing clients read: OpenAI `url_citation` annotations (Chat
Completions and the Responses API), Open WebUI sources, Perplexity-style URL lists.

Everything comes from `Answer.answer` (its `[n]` markers) and `Answer.citations`, so any
answer stage that produces those gets the same annotations. Links are absolute, built from
the request's base URL, and open the cited passage on this server:
`{base}/documents/{doc_id}?start=S&end=E` (the article, the span and its paragraph).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from api.schemas import (
    ChatAnnotation,
    CitationLink,
    ResponseAnnotation,
    Source,
    SourceMetadata,
    SourceRef,
)
from rag.citations import cited_spans
from rag.types import Answer, Citation


def passage_url(base_url: str, citation: Citation) -> str:
    doc = quote(citation.doc_id, safe="")
    return f"{base_url.rstrip('/')}/documents/{doc}?start={citation.start}&end={citation.end}"


@dataclass(frozen=True)
class CitedAnswer:
    """An answer's citations, each with its link, ready to render in any client's shape."""

    answer: Answer
    links: list[CitationLink]  # one per [n] occurrence, in reading order
    urls: dict[int, str]  # marker -> its URL, distinct per marker

    @classmethod
    def build(cls, answer: Answer, base_url: str) -> CitedAnswer:
        urls: dict[int, str] = {}
        for citation in sorted(answer.citations, key=lambda c: c.marker):
            url = passage_url(base_url, citation)
            if url in urls.values():  # two markers citing one span: keep them apart
                url = f"{url}&marker={citation.marker}"
            urls[citation.marker] = url
        links = [
            CitationLink(
                start_index=span.start,
                end_index=span.end,
                url=urls[span.citation.marker],
                title=span.citation.title,
                marker=span.citation.marker,
                doc_id=span.citation.doc_id,
                source_start=span.citation.start,
                source_end=span.citation.end,
                quote=span.citation.quote,
            )
            for span in cited_spans(answer.answer, answer.citations)
        ]
        return cls(answer, links, urls)

    @property
    def citations(self) -> list[Citation]:
        return sorted(self.answer.citations, key=lambda c: c.marker)

    def chat_annotations(self) -> list[ChatAnnotation]:
        return [ChatAnnotation(url_citation=link) for link in self.links]

    def response_annotations(self) -> list[ResponseAnnotation]:
        return [ResponseAnnotation(**link.model_dump()) for link in self.links]

    def url_list(self) -> list[str]:
        """Perplexity's `citations`: the URL of source n at index n-1."""
        return [self.urls[c.marker] for c in self.citations]

    def sources(self) -> list[Source]:
        """Open WebUI sources, in marker order: its n-th source (by id) is [n]. The id is the
        URL, the one Open WebUI also derives from the `url_citation` annotations, so the two
        merge into one entry instead of showing every source twice."""
        return [_source(c, self.urls[c.marker]) for c in self.citations]


def _source(citation: Citation, url: str) -> Source:
    return Source(
        source=SourceRef(id=url, name=citation.title, url=url),
        document=[citation.quote],
        metadata=[
            SourceMetadata(
                source=url,
                source_url=url,
                name=citation.title,
                marker=citation.marker,
                doc_id=citation.doc_id,
                start=citation.start,
                end=citation.end,
                date=citation.date,
            )
        ],
    )
