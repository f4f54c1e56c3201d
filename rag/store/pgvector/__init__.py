"""The index in PostgreSQL with pgvector (RAG_STORE=pgvector): shared by every worker."""

from rag.store.pgvector.store import PgVectorStore

__all__ = ["PgVectorStore"]
