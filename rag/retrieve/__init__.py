"""Retrieval: dense (FAISS) and lexical (BM25) rankings, fused, near-duplicates collapsed."""

from rag.retrieve.dedup import near_duplicate
from rag.retrieve.fusion import FusionWeights, RetrievalMode, reciprocal_rank_fusion
from rag.retrieve.hybrid import HybridRetriever
from rag.types import Retrieval

__all__ = [
    "FusionWeights",
    "HybridRetriever",
    "Retrieval",
    "RetrievalMode",
    "near_duplicate",
    "reciprocal_rank_fusion",
]
