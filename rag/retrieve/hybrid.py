"""Hybrid retrieval: spelling repair, then dense chunks + dense sentences + BM25, fused with
reciprocal rank fusion, near-duplicates collapsed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.embed import Embedder
from rag.retrieve.dedup import collapse
from rag.retrieve.dense import chunk_ranking, chunks_by_sentence, sentence_ranking
from rag.retrieve.fusion import FusionWeights, RetrievalMode, reciprocal_rank_fusion
from rag.retrieve.lexical import Bm25Index
from rag.retrieve.spelling import repair
from rag.settings import Settings
from rag.store import LexicalSearch, LoadedIndex
from rag.text import Lexicon, content_terms
from rag.types import Chunk, Retrieval


class HybridRetriever:
    """Build with `from_index` (tokenises every chunk and builds BM25 unless the store ranks
    lexically itself); then read-only, so threads may share it."""

    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        settings: Settings,
        lexicon: Lexicon,
        bm25: LexicalSearch,
        chunk_terms: list[set[str]],
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.lexicon = lexicon
        self.chunks: list[Chunk] = index.chunks
        self.weights = FusionWeights.from_settings(settings)
        self._bm25 = bm25
        self._terms = chunk_terms
        self._chunks_of_sentence = chunks_by_sentence(index)

    @classmethod
    def from_index(
        cls,
        index: LoadedIndex,
        embedder: Embedder,
        settings: Settings,
        lexicon: Lexicon | None = None,
    ) -> HybridRetriever:
        lexicon = lexicon or Lexicon.from_texts(s.text for s in index.sentences)
        return cls(
            index,
            embedder,
            settings,
            lexicon,
            # The store's own lexical ranking when it has one (the database's BM25).
            index.lexical or Bm25Index.build(index.chunks),
            [set(content_terms(c.text)) for c in index.chunks],
        )

    def repair(self, query: str) -> str:
        """The query as retrieval searches it (spelling repaired against the corpus)."""
        return repair(query, self.lexicon)

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.encode([query])[0]

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Query-time texts (a question's last part, its unknown words), each embedded as the
        query is. One at a time: the ONNX backend runs batches in a session of their own,
        which a server that only answers questions never loads (130 MB more at its peak in
        benchmarks/query_path.py), and a handful of short texts gains little from a batch."""
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.vstack([self.embedder.encode([text]) for text in texts])

    def dense_ranking(self, query_vector: np.ndarray, depth: int) -> tuple[list[int], list[float]]:
        return chunk_ranking(self.index, query_vector, depth)

    def sentence_ranking(self, query_vector: np.ndarray, depth: int) -> list[int]:
        return sentence_ranking(self.index, self._chunks_of_sentence, query_vector, depth)

    def bm25_ranking(self, query: str, depth: int) -> list[int]:
        return self._bm25.ranking(query, depth)

    def retrieve(
        self,
        query: str,
        top_k: int | None = None,
        *,
        mode: RetrievalMode | str = RetrievalMode.HYBRID,
        repaired: str | None = None,
    ) -> Retrieval:
        """Passages for `query`, best first. `mode` limits the rankings used (baselines);
        an unknown mode raises ValueError. `repaired` is `self.repair(query)` when the caller
        has it already."""
        mode = RetrievalMode(mode)
        top_k = top_k or self.settings.top_k
        repaired = self.repair(query) if repaired is None else repaired
        vector = self.embed_query(repaired)
        depth = max(self.settings.candidate_k, top_k * 2)
        dense: list[int] = []
        by_sentence: list[int] = []
        if mode.uses_dense:
            dense, _ = self.dense_ranking(vector, depth)
            by_sentence = self.sentence_ranking(vector, depth)
        lexical = self.bm25_ranking(repaired, depth) if mode.uses_bm25 else []
        fused = reciprocal_rank_fusion(
            [dense, by_sentence, lexical], self.settings.rrf_k, weights=self.weights.as_tuple()
        )
        passages = collapse(fused, self.chunks, self._terms, top_k)
        return Retrieval(repaired, vector, passages, dense, by_sentence, lexical)
