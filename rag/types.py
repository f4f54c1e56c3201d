"""Typed records passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:  # the records module stays free of stage imports
    from rag.analyze import QuestionAnalysis


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


class Role(StrEnum):
    """What a line of a saved news page is (rag/ingest/layout.py decides)."""

    HEADLINE = "headline"
    STANDFIRST = "standfirst"  # a second headline-like line (dek) under the headline
    MASTHEAD = "masthead"  # the outlet's name at the top of the page
    NAVIGATION = "navigation"  # section links, breadcrumbs
    ACCOUNT = "account"  # sign in, register, subscribe, newsletter sign-up
    COOKIE = "cookie"  # cookie / privacy consent banner
    ADVERT = "advert"
    SHARE = "share"  # share buttons
    WIDGET = "widget"  # "Listen to this article", reading time
    DATELINE = "dateline"
    BYLINE = "byline"
    AUTHOR_BIO = "author_bio"
    CAPTION = "caption"  # photo or image caption / credit
    RELATED = "related"  # related-headline lists and their headings
    LIST = "list"  # other bullet lists (key points, link lists)
    TAGS = "tags"
    COMMENTS = "comments"  # comment counts and prompts, "Report an error"
    ERROR = "error"  # "Oops! Something went wrong"
    FOOTER = "footer"  # copyright, the outlet's tag line
    SUBHEADING = "subheading"  # a section heading inside the article
    BODY = "body"


# Roles whose lines may be indexed as sentences: the article's prose, and who wrote it (so
# "who wrote this?" is answerable). Every other role is page furniture, never quoted.
INDEXED_ROLES = frozenset({Role.BODY, Role.BYLINE, Role.AUTHOR_BIO})
# What is indexed with RAG_INDEX_AUTHOR_LINES off: the prose alone.
BODY_ROLES = frozenset({Role.BODY})


@dataclass(frozen=True, slots=True)
class RoleSpan:
    start: int  # the line's start, or just after its bullet for a list item that is prose
    end: int  # excluding the line break
    role: Role


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str
    text: str
    title: str
    outlet: str | None = None
    date: str | None = None  # ISO publication date shown in the article, when it shows one
    sort_date: str | None = None  # date or an inferred "YYYY-MM" used to order articles in time
    date_note: str | None = None  # human wording for an inferred date
    junk: tuple[Span, ...] = ()  # regions never indexed (every line whose role is furniture)
    sha256: str = ""  # of the stored text's UTF-8 bytes
    authors: tuple[str, ...] = ()  # from the byline
    updated: str | None = None  # ISO date of an "Updated ..." line
    roles: tuple[RoleSpan, ...] = ()  # every non-blank line, in order (empty: all body)
    source: str = "seed"  # "seed" (RAG_SEEDS_DIR) or "library" (added with rag add / POST)


@dataclass(frozen=True, slots=True)
class Sentence:
    sent_id: int  # position in the global sentence table
    doc_id: str
    start: int
    end: int
    text: str
    role: Role = Role.BODY  # BODY, BYLINE or AUTHOR_BIO (INDEXED_ROLES)


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_id: int
    doc_id: str
    start: int
    end: int
    text: str
    sentence_ids: tuple[int, ...] = field(default=())


class Passage(BaseModel):
    doc_id: str
    start: int
    end: int
    text: str
    score: float
    # Which indexed chunk this is; internal (not serialised), absent on passages read back
    # from JSON, e.g. a server's /ask reply.
    chunk_id: int | None = Field(default=None, exclude=True)


@dataclass
class Retrieval:
    """What retrieval hands the answer stage: passages best first, and how they ranked."""

    query: str  # as searched, after spelling repair
    query_vector: np.ndarray
    passages: list[Passage]
    dense_ranking: list[int]  # chunk ids, by the chunk vectors
    sentence_ranking: list[int]  # chunk ids, by their best sentence vector
    bm25_ranking: list[int]  # chunk ids, by BM25
    # The question analysis stage's reading of `query` (the pipeline fills it in)
    analysis: QuestionAnalysis | None = None


class Citation(BaseModel):
    marker: int
    doc_id: str
    title: str
    date: str | None
    start: int
    end: int
    quote: str
    score: float


class Timings(BaseModel):
    retrieve: float = 0.0
    analyze: float = 0.0  # waiting for the question analysis (parsed during retrieval)
    answer: float = 0.0
    total: float = 0.0


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    timings_ms: Timings
