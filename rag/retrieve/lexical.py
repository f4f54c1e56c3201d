"""BM25 (bm25s) over chunk terms and adjacent-term pairs."""

from __future__ import annotations

from typing import Any

import bm25s

from rag.retrieve.fusion import TIE_MARGIN, best_first
from rag.text import tokenize_for_bm25
from rag.types import Chunk


class Bm25Index:
    def __init__(self, bm25: Any, size: int) -> None:
        self._bm25 = bm25
        self.size = size

    @classmethod
    def build(cls, chunks: list[Chunk]) -> Bm25Index:
        bm25 = bm25s.BM25()
        bm25.index([tokenize_for_bm25(c.text) or ["<empty>"] for c in chunks], show_progress=False)
        return cls(bm25, len(chunks))

    def ranking(self, query: str, depth: int) -> list[int]:
        """Chunk ids with a positive score, best first; equal scores (the same line in two
        articles) in id order, so the ranking is reproducible, and the same from every
        store (the database's BM25 orders them so too)."""
        terms = [t for t in tokenize_for_bm25(query) if t in self._bm25.vocab_dict]
        if not terms or depth <= 0:
            return []
        k = min(depth + TIE_MARGIN, self.size)
        ids, scores = self._bm25.retrieve([terms], k=k, show_progress=False, n_threads=1)
        hits = ((float(s), int(i)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0)
        return [i for _, i in best_first(hits, depth)]
