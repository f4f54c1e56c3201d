"""Dense rankings over the FAISS indexes: chunks by their own vector, and chunks by their
best-matching sentence."""

from __future__ import annotations

import faiss
import numpy as np

from rag.retrieve.fusion import TIE_MARGIN, best_first
from rag.store import LoadedIndex, VectorSearch


def one_search_thread() -> None:
    # Single-query searches are latency-bound: extra OpenMP threads only add contention
    # (benchmarks/threads.py). The setting is per calling thread, so every searching thread
    # (the API's worker pool included) sets it for itself.
    faiss.omp_set_num_threads(1)


def chunks_by_sentence(index: LoadedIndex) -> dict[int, list[int]]:
    """sentence id -> the chunks that hold it."""
    out: dict[int, list[int]] = {}
    for chunk in index.chunks:
        for sid in chunk.sentence_ids:
            out.setdefault(sid, []).append(chunk.chunk_id)
    return out


def _nearest(index: VectorSearch, query_vector: np.ndarray, k: int) -> list[tuple[float, int]]:
    """(score, position) best first, ties in position order (`best_first`)."""
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    scores, ids = index.search(query_vector.reshape(1, -1), min(k + TIE_MARGIN, index.ntotal))
    hits = ((float(s), int(i)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0)
    return best_first(hits, k)


def chunk_ranking(
    index: LoadedIndex, query_vector: np.ndarray, depth: int
) -> tuple[list[int], list[float]]:
    one_search_thread()
    hits = _nearest(index.chunk_index, query_vector, depth)
    return [i for _, i in hits], [s for s, _ in hits]


def sentence_ranking(
    index: LoadedIndex,
    chunks_of_sentence: dict[int, list[int]],
    query_vector: np.ndarray,
    depth: int,
) -> list[int]:
    """Chunks ranked by their best-matching sentence: a one-sentence answer inside an
    otherwise off-topic chunk still surfaces."""
    one_search_thread()
    ranking: list[int] = []
    for _, sid in _nearest(index.sentence_index, query_vector, depth * 2):
        for chunk_id in chunks_of_sentence.get(sid, ()):
            if chunk_id not in ranking:
                ranking.append(chunk_id)
    return ranking[:depth]
