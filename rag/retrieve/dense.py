"""Dense rankings over the FAISS indexes: chunks by their own vector, and chunks by their
best-matching sentence."""

from __future__ import annotations

import faiss
import numpy as np

from rag.store import LoadedIndex


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


def chunk_ranking(
    index: LoadedIndex, query_vector: np.ndarray, depth: int
) -> tuple[list[int], list[float]]:
    depth = min(depth, len(index.chunks))
    one_search_thread()
    scores, ids = index.chunk_index.search(query_vector.reshape(1, -1), depth)
    keep = ids[0] >= 0
    return [int(i) for i in ids[0][keep]], [float(s) for s in scores[0][keep]]


def sentence_ranking(
    index: LoadedIndex,
    chunks_of_sentence: dict[int, list[int]],
    query_vector: np.ndarray,
    depth: int,
) -> list[int]:
    """Chunks ranked by their best-matching sentence: a one-sentence answer inside an
    otherwise off-topic chunk still surfaces."""
    n = index.sentence_index.ntotal
    one_search_thread()
    _, ids = index.sentence_index.search(query_vector.reshape(1, -1), min(depth * 2, n))
    ranking: list[int] = []
    for sid in ids[0]:
        for chunk_id in chunks_of_sentence.get(int(sid), ()):
            if chunk_id not in ranking:
                ranking.append(chunk_id)
    return ranking[:depth]
