"""Where the index lives: build folders of FAISS files (FaissStore) or PostgreSQL + pgvector
(PgVectorStore), behind one `Store` protocol; `open_store` picks the one RAG_STORE names."""

from rag.store.base import LexicalSearch, Store, VectorSearch
from rag.store.faiss_index import hnsw_bytes_per_vector, make_faiss_index
from rag.store.faiss_store import FaissStore
from rag.store.index import LoadedIndex, build_index, ensure_index, load_index
from rag.store.open import open_store

__all__ = [
    "FaissStore",
    "LexicalSearch",
    "LoadedIndex",
    "Store",
    "VectorSearch",
    "build_index",
    "ensure_index",
    "hnsw_bytes_per_vector",
    "load_index",
    "make_faiss_index",
    "open_store",
]
