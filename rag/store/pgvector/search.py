"""Searches against one generation of the database: vectors (HNSW) and BM25 (postings)."""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from typing import TYPE_CHECKING

import numpy as np
from psycopg import sql

from rag.store.pgvector.schema import (
    BM25_B,
    BM25_K1,
    EMPTY_CHUNK_TERM,
    HNSW_EF_SEARCH,
    ef_search_for,
    visible,
)
from rag.text import tokenize_for_bm25

if TYPE_CHECKING:
    from rag.store.pgvector.store import PgVectorStore


class PgVectorSearch:
    """A table's embeddings as a `VectorSearch`: ids are the loaded index's positions."""

    def __init__(
        self,
        store: PgVectorStore,
        table: str,
        generation: int,
        positions: dict[int, int],  # database id -> position in the loaded index
        dim: int,
    ) -> None:
        self._store = store
        self._generation = generation
        self._positions = positions
        self._dim = dim
        self._query = sql.SQL(
            "SELECT id, -(embedding <#> %(q)s) FROM {s}.{t} AS r WHERE {visible} "
            "ORDER BY embedding <#> %(q)s LIMIT %(k)s"
        ).format(s=sql.Identifier(store.schema), t=sql.Identifier(table), visible=visible("r"))

    @property
    def ntotal(self) -> int:
        return len(self._positions)

    @property
    def d(self) -> int:
        return self._dim

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self._dim)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        if k <= 0:
            return scores, ids
        params = {"k": k, "g": self._generation}
        expected = min(k, self.ntotal)
        with self._store.connection() as conn:
            # One index scan returns at most hnsw.ef_search rows, and rows of other
            # generations among them are filtered out afterwards (after a full rebuild, each
            # live row has a retired twin for a while): at least twice k, and more for a
            # large table (schema.ef_search_for). Another value than the connections' own
            # needs a transaction for SET LOCAL; otherwise one statement.
            ef_search = max(2 * k, ef_search_for(self.ntotal))
            deep = ef_search != HNSW_EF_SEARCH  # the connections' own setting
            with conn.transaction() if deep else nullcontext():
                if deep:
                    conn.execute(
                        sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search))
                    )
                for row, query in enumerate(queries):
                    found = conn.execute(self._query, {**params, "q": query}).fetchall()
                    if len(found) < expected:
                        self._store.check_generation(conn, self._generation)
                    for col, (db_id, score) in enumerate(found):
                        ids[row, col] = self._positions[db_id]
                        scores[row, col] = score
        return scores, ids


class PgBm25:
    """BM25 over the postings table, scored as bm25s scores it (see schema.BM25_K1)."""

    def __init__(self, store: PgVectorStore, generation: int, positions: dict[int, int]) -> None:
        self._store = store
        self._generation = generation
        self._positions = positions
        s = sql.Identifier(store.schema)
        self._query = sql.SQL(
            """WITH q AS (
                   SELECT term, count(*)::float8 AS qtf FROM unnest(%(terms)s::text[]) AS term
                   GROUP BY term)
               SELECT p.chunk,
                      sum(q.qtf * ln(1 + (m.chunk_count - t.df + 0.5) / (t.df + 0.5))
                          * p.tf / (p.tf + {k1} * (1 - {b} + {b} * c.term_count
                                                   / m.avg_chunk_terms))) AS score
               FROM q
               JOIN {s}.term_stats AS t ON t.generation = %(g)s AND t.term = q.term
               JOIN {s}.postings AS p ON p.term = q.term
               JOIN {s}.chunks AS c ON c.id = p.chunk
               JOIN {s}.generations AS m ON m.generation = %(g)s
               WHERE {visible}
               GROUP BY p.chunk, c.doc_id, c.ordinal
               ORDER BY score DESC, c.doc_id COLLATE "C", c.ordinal
               LIMIT %(k)s"""
        ).format(s=s, k1=sql.Literal(BM25_K1), b=sql.Literal(BM25_B), visible=visible("c"))

    def ranking(self, query: str, depth: int) -> list[int]:
        terms = tokenize_for_bm25(query)
        if not terms or depth <= 0:
            return []
        with self._store.connection() as conn:
            rows = conn.execute(
                self._query, {"terms": terms, "k": depth, "g": self._generation}
            ).fetchall()
            if not rows:  # no match, or this generation's statistics are gone
                self._store.check_generation(conn, self._generation)
        return [self._positions[chunk] for chunk, score in rows if score > 0]


def postings_of(text: str) -> Counter[str]:
    """Term frequencies of a chunk, with the file store's BM25 tokens."""
    return Counter(tokenize_for_bm25(text) or [EMPTY_CHUNK_TERM])
