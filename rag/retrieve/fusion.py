"""Reciprocal rank fusion of the rankings, and which rankings a retrieval mode uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rag.settings import Settings


class RetrievalMode(StrEnum):
    """`RetrievalMode("bm25")` etc.; an unknown name raises ValueError."""

    HYBRID = "hybrid"  # dense chunks + dense sentences + BM25
    DENSE = "dense"  # the two dense rankings only
    BM25 = "bm25"  # BM25 only

    @property
    def uses_dense(self) -> bool:
        return self in (RetrievalMode.HYBRID, RetrievalMode.DENSE)

    @property
    def uses_bm25(self) -> bool:
        return self in (RetrievalMode.HYBRID, RetrievalMode.BM25)


@dataclass(frozen=True)
class FusionWeights:
    """Weights of the three rankings in the fusion (values and provenance: rag/settings.py)."""

    dense: float
    sentences: float
    bm25: float

    @classmethod
    def from_settings(cls, settings: Settings) -> FusionWeights:
        return cls(
            settings.fusion_dense_weight,
            settings.fusion_sentence_weight,
            settings.fusion_bm25_weight,
        )

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.dense, self.sentences, self.bm25)


# Hits fetched beyond a ranking's depth, so that items tied at the cut are broken by id.
TIE_MARGIN = 8


def best_first(hits: Iterable[tuple[float, int]], depth: int) -> list[tuple[float, int]]:
    """The `depth` best (score, id) pairs, equal scores (the same text in two articles) in id
    order: reproducible, and the same from every store (FAISS's heap and bm25s's partial
    sort each break ties their own way). Ask the ranker for depth + TIE_MARGIN hits."""
    return sorted(hits, key=lambda hit: (-hit[0], hit[1]))[:depth]


def reciprocal_rank_fusion(
    rankings: list[list[int]], k: int = 60, weights: tuple[float, ...] | None = None
) -> list[tuple[int, float]]:
    """(item, score) best first; score = sum of weight / (k + rank), ties by item."""
    weights = weights or (1.0,) * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
