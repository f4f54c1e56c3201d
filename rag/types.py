"""Typed records passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from rag.analyze import QuestionAnalysis


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    doc_id: str
    text: str
    title: str
    outlet: str | None = None
    date: str | None = None  # ISO date shown in the article, when it shows one
    sort_date: str | None = None  # date or an inferred "YYYY-MM" used to order articles in time
    date_note: str | None = None  # human wording for an inferred date
    junk: tuple[Span, ...] = ()  # excluded regions (banners, bylines, bios, bullets)
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class Sentence:
    sent_id: int  # position in the global sentence table
    doc_id: str
    start: int
    end: int
    text: str


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
    analyze: float = 0.0  # question analysis (spaCy parse)
    answer: float = 0.0
    total: float = 0.0


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    timings_ms: Timings
