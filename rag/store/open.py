"""Which store RAG_STORE names."""

from __future__ import annotations

from rag.optional import require
from rag.settings import Settings
from rag.store.base import Store
from rag.store.faiss_store import FaissStore


def open_store(settings: Settings) -> Store:
    """The store the settings choose; a database store connects lazily, on first use."""
    if settings.store == "pgvector":
        for module in ("psycopg", "psycopg_pool", "pgvector"):
            require(module, "postgres", "RAG_STORE=pgvector")
        from rag.store.pgvector import PgVectorStore

        return PgVectorStore(settings)
    return FaissStore(settings)
