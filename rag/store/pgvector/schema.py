"""The database schema: tables, indexes and the values they were chosen with.

Rows are versioned by generation: a write adds rows with `added = g` and retires replaced
ones with `retired = g`, in one transaction that also moves `meta.generation` to g. A reader
that loaded generation g filters every search with `visible(g)`, so it keeps seeing exactly
that version while later writes commit; rows retired before the previous generation are
deleted by the next write (like the file store's two kept builds).
"""

from __future__ import annotations

from psycopg import sql

# 1: documents, sentences, chunks (vector(d) + HNSW), BM25 postings and statistics, all
# versioned by generation; 2: the live vocabulary's word vectors
SCHEMA_VERSION = 2

# HNSW (pgvector) parameters, from benchmarks/pg_scale.py (docs/scaling.md): synthetic
# MiniLM-like vectors, 300 held-out real queries, 20 results each, recall@10 against exact
# search. m=16 links and ef_construction=64 (pgvector's defaults) built 1e6 vectors in 12 min
# on 2 busy cores; ef_construction=128 took twice as long and bought less than a larger
# ef_search does. ef_search (the candidate list of one scan, and the most rows it returns)
# grows with the table, as for FAISS: 128 gave recall@10 0.994 at 1e5 (4.3 ms p50 per
# query, client side); at 1e6 it gave 0.975, so from HNSW_LARGE rows on it is 400: 0.9987 at
# 10.6 ms p50 / 14.9 ms p95.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 128
HNSW_EF_SEARCH_LARGE = 400
HNSW_LARGE = 500_000


def ef_search_for(rows: int) -> int:
    return HNSW_EF_SEARCH_LARGE if rows >= HNSW_LARGE else HNSW_EF_SEARCH


# How long rows a write replaced stay searchable for readers of the generation before. A
# server checks for a newer generation on every request and no statement runs longer than
# RAG_DATABASE_STATEMENT_TIMEOUT (30 s), so a request in flight is covered with room to spare.
RETIRED_GRACE_S = 120

# BM25 as bm25s computes it for the file store (method "lucene", its default k1 and b), so
# both stores rank passages the same (tests/store/test_store_contract.py checks it).
BM25_K1 = 1.5
BM25_B = 0.75
EMPTY_CHUNK_TERM = "<empty>"  # what rag.retrieve.lexical indexes for a chunk without terms


def visible(alias: str) -> sql.Composed:
    """Rows of the generation bound as %(g)s."""
    a = sql.Identifier(alias)
    return sql.SQL("{a}.added <= %(g)s AND ({a}.retired IS NULL OR {a}.retired > %(g)s)").format(
        a=a
    )


def create_statements(schema: str, dim: int) -> list[sql.Composed]:
    s = sql.Identifier(schema)
    hnsw = sql.SQL("WITH (m = {m}, ef_construction = {ef})").format(
        m=sql.Literal(HNSW_M), ef=sql.Literal(HNSW_EF_CONSTRUCTION)
    )
    vector = sql.SQL("vector({})").format(sql.Literal(dim))
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {s}").format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.meta (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                schema_version integer NOT NULL,
                dim integer NOT NULL,
                generation bigint NOT NULL,
                manifest jsonb NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now())"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.documents (
                id bigserial PRIMARY KEY,
                doc_id text NOT NULL,
                key text NOT NULL,
                sha256 text NOT NULL,
                origin text NOT NULL,
                text text NOT NULL,
                meta jsonb NOT NULL,
                words text[] NOT NULL,  -- its sentences' vocabulary (rag.text.vocabulary)
                added bigint NOT NULL,
                retired bigint)"""
        ).format(s=s),
        sql.SQL("CREATE UNIQUE INDEX ON {s}.documents (doc_id) WHERE retired IS NULL").format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.sentences (
                id bigserial PRIMARY KEY,
                document bigint NOT NULL REFERENCES {s}.documents (id) ON DELETE CASCADE,
                doc_id text NOT NULL,
                ordinal integer NOT NULL,
                start_offset integer NOT NULL,
                end_offset integer NOT NULL CHECK (end_offset >= start_offset),
                text text NOT NULL,
                role text NOT NULL,
                annotation jsonb NOT NULL,
                embedding {vector} NOT NULL,
                added bigint NOT NULL,
                retired bigint)"""
        ).format(s=s, vector=vector),
        sql.SQL(
            """CREATE TABLE {s}.chunks (
                id bigserial PRIMARY KEY,
                document bigint NOT NULL REFERENCES {s}.documents (id) ON DELETE CASCADE,
                doc_id text NOT NULL,
                ordinal integer NOT NULL,
                start_offset integer NOT NULL,
                end_offset integer NOT NULL CHECK (end_offset >= start_offset),
                text text NOT NULL,
                sentence_ordinals integer[] NOT NULL,
                term_count integer NOT NULL,
                embedding {vector} NOT NULL,
                added bigint NOT NULL,
                retired bigint)"""
        ).format(s=s, vector=vector),
        sql.SQL(
            """CREATE TABLE {s}.postings (
                term text NOT NULL,
                chunk bigint NOT NULL REFERENCES {s}.chunks (id) ON DELETE CASCADE,
                tf integer NOT NULL,
                PRIMARY KEY (term, chunk))"""
        ).format(s=s),
        sql.SQL("CREATE INDEX ON {s}.postings (chunk)").format(s=s),
        # BM25's statistics as each generation sees them (the live one and those readers may
        # still be using): chunk count, mean length, document frequencies.
        sql.SQL(
            """CREATE TABLE {s}.generations (
                generation bigint PRIMARY KEY,
                chunk_count bigint NOT NULL,
                avg_chunk_terms double precision NOT NULL,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp())"""
        ).format(s=s),
        sql.SQL(
            """CREATE TABLE {s}.term_stats (
                generation bigint NOT NULL
                    REFERENCES {s}.generations (generation) ON DELETE CASCADE,
                term text NOT NULL,
                df integer NOT NULL,
                PRIMARY KEY (generation, term))"""
        ).format(s=s),
        # The live articles' vocabulary (the union of documents.words) and its vectors. Not
        # versioned: a word's vector depends on the model alone, a reader loads them all at
        # once, and a write keeps exactly the words of the generation it makes.
        sql.SQL(
            """CREATE TABLE {s}.words (
                word text PRIMARY KEY,
                embedding {vector} NOT NULL)"""
        ).format(s=s, vector=vector),
        sql.SQL("CREATE INDEX ON {s}.sentences (document)").format(s=s),
        sql.SQL("CREATE INDEX ON {s}.chunks (document)").format(s=s),
        sql.SQL("CREATE INDEX ON {s}.sentences USING hnsw (embedding vector_ip_ops) {hnsw}").format(
            s=s, hnsw=hnsw
        ),
        sql.SQL("CREATE INDEX ON {s}.chunks USING hnsw (embedding vector_ip_ops) {hnsw}").format(
            s=s, hnsw=hnsw
        ),
    ]
