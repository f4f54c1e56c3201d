"""The on-disk index: atomic build folders and locks, the manifest, FAISS vectors."""

from rag.store.faiss_index import hnsw_bytes_per_vector, make_faiss_index
from rag.store.index import LoadedIndex, build_index, ensure_index, load_index

__all__ = [
    "LoadedIndex",
    "build_index",
    "ensure_index",
    "hnsw_bytes_per_vector",
    "load_index",
    "make_faiss_index",
]
