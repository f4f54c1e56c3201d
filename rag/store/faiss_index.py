"""FAISS indexes: inner product on normalised vectors, exact or HNSW by size."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

from rag.files import atomic_write
from rag.settings import Settings

# HNSW parameters, chosen on real MiniLM vectors (benchmarks/scale.py, docs/performance.md):
# M=32 links per node (64 on the bottom layer) and efConstruction=80 give recall@10 against
# exact search of 0.998 at 1e5 vectors with efSearch=128, and 0.987 / 0.996 at 1e6 with
# efSearch=128 / 256 (0.6 / 1.1 ms a query). efSearch is the candidate list a query explores
# (searches ask for <= 40 hits); it grows with the index to keep recall >= 0.98.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
HNSW_EF_SEARCH_LARGE = 256  # from HNSW_LARGE vectors on
HNSW_LARGE = 500_000


def hnsw_bytes_per_vector(dim: int, m: int = HNSW_M) -> float:
    """Theoretical memory of one vector in IndexHNSWFlat.

    4*d (float32 vector) + 2*M*4 (level-0 links) + M*4/(M-1) (links on upper levels: a node
    reaches level l with probability M**-l) + 4 (its level) + 8 (its offset into the links).
    """
    return 4 * dim + 2 * m * 4 + m * 4 / (m - 1) + 4 + 8


def make_faiss_index(vectors: np.ndarray, settings: Settings) -> faiss.Index:
    """Exact inner product for small corpora, HNSW (graph, approximate) above the threshold."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    index: faiss.Index
    if n >= settings.hnsw_threshold:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        # Stored in the file, so a loaded index keeps it.
        index.hnsw.efSearch = HNSW_EF_SEARCH_LARGE if n >= HNSW_LARGE else HNSW_EF_SEARCH
        # Building is batch work: use every core even where the retriever pinned searches to
        # one thread. omp_set_num_threads is per calling thread, so restore it after.
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(previous)
    else:
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
    return index


def write_faiss(index: faiss.Index, path: Path) -> None:
    # faiss.write_index's own file is not fsynced; serialise and write it durably instead.
    atomic_write(path, faiss.serialize_index(index).tobytes())


def read_faiss(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))


def stored_vectors(index: faiss.Index, n: int) -> np.ndarray:
    """Stored vectors back out of a flat or HNSW index (the answer stage scores sentences)."""
    if isinstance(index, faiss.IndexHNSWFlat):
        return faiss.downcast_index(index.storage).reconstruct_n(0, n)
    return index.reconstruct_n(0, n)
