"""The index in PostgreSQL + pgvector, shared by every worker and machine.

Writes (a first build, `rag index`, adding or deleting an article) run in one transaction
under an advisory lock: they compare the articles' keys with the live rows, analyse, embed
and annotate only new or changed articles, add their rows and retire the replaced ones, then
move the generation on. Readers load one generation (records and sentence vectors, which
the answer stage scores) and search the database with that generation's rows only, so a
reader sees the old corpus or the new, never a mix; a server notices a newer generation on
its next request (`live_version`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from rag import __version__
from rag.analyze import Annotator, SentenceAnnotation
from rag.embed import WordVectors
from rag.errors import (
    IndexCorruptedError,
    IndexMismatchError,
    SeedReadError,
    StoreUnavailableError,
)
from rag.ingest.chunk import chunk_sentences
from rag.ingest.corpus import indexed_roles, load_document
from rag.ingest.sentences import sentences_of
from rag.ingest.sources import Source, load_sources
from rag.progress import LogReporter, Reporter
from rag.settings import Settings
from rag.store.index import LoadedIndex, first_mismatch
from rag.store.manifest import ARTICLES, differences, expected_manifest
from rag.store.pgvector.schema import (
    HNSW_EF_SEARCH,
    RETIRED_GRACE_S,
    SCHEMA_VERSION,
    create_statements,
    visible,
)
from rag.store.pgvector.search import PgBm25, PgVectorSearch, postings_of
from rag.store.records import (
    document_from_meta,
    document_from_record,
    document_meta,
    encode_texts,
)
from rag.text import vocabulary
from rag.types import Chunk, Document, Role, Sentence

if TYPE_CHECKING:
    from rag.embed import Embedder

log = logging.getLogger(__name__)

VERSION_PREFIX = "pg-"


class PgVectorStore:
    name = "pgvector"
    shared = True

    def __init__(self, settings: Settings) -> None:
        assert settings.database_url is not None  # Settings refuses pgvector without one
        self.settings = settings
        self.schema = settings.database_schema
        self._url = settings.database_url.get_secret_value()
        self._pool: ConnectionPool | None = None
        self._opening = threading.Lock()  # threads share one pool
        self._s = sql.Identifier(self.schema)

    # -- connections ---------------------------------------------------------------------

    def _open(self) -> ConnectionPool:
        if self._pool is not None:
            return self._pool
        with self._opening:
            if self._pool is None:
                self._pool = self._new_pool()
            return self._pool

    def _new_pool(self) -> ConnectionPool:
        timeout = self.settings.database_connect_timeout
        statement_ms = int(self.settings.database_statement_timeout * 1000)
        options: dict[str, Any] = {
            "connect_timeout": max(1, round(timeout)),
            "options": f"-c statement_timeout={statement_ms}",
            "application_name": "nato-rag",
        }
        # A direct first connection: its error says why (refused, no such database, bad
        # password), where the pool would only time out. It also makes sure pgvector is
        # there before connections register its type.
        try:
            with psycopg.connect(self._url, autocommit=True, **options) as conn:
                installed = conn.execute(
                    "SELECT 1 FROM pg_extension WHERE extname = 'vector'"
                ).fetchone()
                if not installed:
                    # IF NOT EXISTS still races another process doing the same: serialise.
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(hashtext('rag:extension'))")
                        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreUnavailableError(
                "The database has no pgvector extension and this user may not create it: "
                "run `CREATE EXTENSION vector` as a superuser, or use the "
                "pgvector/pgvector image (docs/scaling.md)."
            ) from exc
        except psycopg.ProgrammingError as exc:  # libpq could not parse the URL
            raise StoreUnavailableError(
                "RAG_DATABASE_URL is not a valid PostgreSQL URL: give "
                "postgresql://user:password@host:5432/dbname, with special characters in the "
                "password percent-encoded (or the password in PGPASSWORD)."
            ) from exc
        except psycopg.Error as exc:
            raise StoreUnavailableError(
                f"Cannot reach the index database (RAG_DATABASE_URL): {self._describe(exc)}"
            ) from exc

        def configure(conn: psycopg.Connection[Any]) -> None:
            register_vector(conn)
            conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(HNSW_EF_SEARCH)))

        pool: ConnectionPool = ConnectionPool(
            self._url,
            min_size=1,
            max_size=self.settings.database_pool_size,
            timeout=timeout,
            kwargs={**options, "autocommit": True},
            configure=configure,
            # A connection that broke while idle (the database restarted) is replaced on
            # checkout instead of failing a request: one empty round trip per checkout.
            check=ConnectionPool.check_connection,
            open=False,
            name="rag",
        )
        try:
            pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            pool.close()
            raise StoreUnavailableError(
                f"Cannot reach the index database (RAG_DATABASE_URL) within {timeout:g} s."
            ) from exc
        return pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit; use `conn.transaction()` for several statements);
        StoreUnavailableError if none can be had in time."""
        pool = self._open()
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailableError(
                "No connection to the index database within "
                f"{self.settings.database_connect_timeout:g} s (RAG_DATABASE_POOL_SIZE="
                f"{self.settings.database_pool_size} are busy, or the server is down)."
            ) from exc
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise StoreUnavailableError(
                "The index database is read-only (a standby?): RAG_DATABASE_URL must name the "
                "primary."
            ) from exc
        except psycopg.Error as exc:
            raise StoreUnavailableError(
                f"The index database failed: {self._describe(exc)}"
            ) from exc

    def _describe(self, exc: BaseException) -> str:
        return redact(_first_line(exc), self._url)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- the Store protocol ----------------------------------------------------------------

    def ensure(
        self,
        embedder: Embedder,
        reporter: Reporter | None = None,
        annotator: Annotator | None = None,
    ) -> LoadedIndex:
        annotator = annotator or Annotator()
        sources = load_sources(self.settings)
        expected = expected_manifest(self.settings, embedder, sources, annotator)
        reasons = self._stale_reasons(expected)
        if reasons:
            if not self.settings.auto_index:
                raise IndexMismatchError(
                    f"The index in the database is out of date: {'; '.join(reasons)}. "
                    "Run `rag index` to rebuild it."
                )
            log.info("%s Updating the database index.", "; ".join(reasons))
            self._sync(embedder, reporter, annotator, reuse=True)
        return self.load(embedder, annotator)

    def build(
        self,
        embedder: Embedder,
        reporter: Reporter | None = None,
        annotator: Annotator | None = None,
        reuse: bool = True,
    ) -> LoadedIndex:
        annotator = annotator or Annotator()
        self._sync(embedder, reporter, annotator, reuse=reuse)
        return self.load(embedder, annotator)

    def sync_locked(
        self, embedder: Embedder, reporter: Reporter | None, annotator: Annotator | None
    ) -> LoadedIndex:
        # The database's own advisory lock serialises writers; the caller's file lock only
        # guards the library folder.
        return self.build(embedder, reporter, annotator)

    def live_version(self) -> str | None:
        # Asked on every request of a server: one statement, one round trip.
        with self.connection() as conn:
            try:
                row = conn.execute(
                    sql.SQL("SELECT generation FROM {s}.meta").format(s=self._s)
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                return None
        return f"{VERSION_PREFIX}{row[0]}" if row else None

    def stored_documents(self, sources: list[Source]) -> dict[str, Document]:
        try:
            with self.connection() as conn:
                if self._meta(conn, ("generation",)) is None:
                    return {}
                rows = conn.execute(
                    sql.SQL(
                        "SELECT doc_id, key, meta FROM {s}.documents WHERE retired IS NULL"
                    ).format(s=self._s)
                ).fetchall()
        except StoreUnavailableError:
            return {}  # `rag list` still lists the articles, analysing them itself
        stored = {doc_id: (key, meta) for doc_id, key, meta in rows}
        indexed = indexed_roles(self.settings)
        return {
            s.doc_id: document_from_meta(s, stored[s.doc_id][1], indexed)
            for s in sources
            if s.doc_id in stored and stored[s.doc_id][0] == s.key
        }

    def load(self, embedder: Embedder, annotator: Annotator | None = None) -> LoadedIndex:
        """The live generation. Its articles are whatever the database holds (a write
        through any worker); the model, chunking and answer model must match this process."""
        annotator = annotator or Annotator()
        with self.connection() as conn, conn.transaction():
            # One snapshot for every read below, however many writes commit meanwhile.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            meta = self._meta(conn, ("generation", "manifest", "dim", "schema_version"))
            if meta is None:
                raise IndexMismatchError(
                    "No index in the database yet. Run `rag index` to build it."
                )
            generation, manifest, dim, schema_version = meta
            expected = expected_manifest(self.settings, embedder, [], annotator)
            reasons = _manifest_reasons(manifest, expected, schema_version)
            if reasons:
                raise IndexMismatchError(
                    f"The index in the database was built differently: {'; '.join(reasons)}. "
                    "Run `rag index` to rebuild it."
                )
            params = {"g": generation}
            doc_rows = conn.execute(
                sql.SQL(
                    "SELECT doc_id, sha256, origin, text, meta FROM {s}.documents AS d "
                    'WHERE {v} ORDER BY doc_id COLLATE "C"'
                ).format(s=self._s, v=visible("d")),
                params,
            ).fetchall()
            sentence_rows = conn.execute(
                sql.SQL(
                    "SELECT id, doc_id, ordinal, start_offset, end_offset, text, role, "
                    "annotation, embedding FROM {s}.sentences AS r WHERE {v} "
                    'ORDER BY doc_id COLLATE "C", ordinal'
                ).format(s=self._s, v=visible("r")),
                params,
                binary=True,
            ).fetchall()
            chunk_rows = conn.execute(
                sql.SQL(
                    "SELECT id, doc_id, ordinal, start_offset, end_offset, text, "
                    "sentence_ordinals FROM {s}.chunks AS r WHERE {v} "
                    'ORDER BY doc_id COLLATE "C", ordinal'
                ).format(s=self._s, v=visible("r")),
                params,
            ).fetchall()
            # The generation's vocabulary, in the order `vocabulary` sorts (code points).
            word_rows = conn.execute(
                sql.SQL('SELECT word, embedding FROM {s}.words ORDER BY word COLLATE "C"').format(
                    s=self._s
                ),
                binary=True,
            ).fetchall()
        try:
            return self._assemble(
                generation,
                manifest,
                dim,
                doc_rows,
                sentence_rows,
                chunk_rows,
                word_rows,
                embedder,
            )
        except IndexMismatchError:
            raise
        except Exception as exc:  # rows that contradict each other
            raise IndexCorruptedError(
                f"The index in the database is inconsistent ({exc}). Run `rag index` to rebuild it."
            ) from exc

    # -- reading -----------------------------------------------------------------------------

    def check_generation(self, conn: psycopg.Connection[Any], generation: int) -> None:
        """IndexMismatchError if `generation`'s rows have been collected: a process that
        held an old version for longer than RETIRED_GRACE_S must load the live one."""
        found = conn.execute(
            sql.SQL("SELECT 1 FROM {s}.generations WHERE generation = %s").format(s=self._s),
            (generation,),
        ).fetchone()
        if found is None:
            raise IndexMismatchError(
                f"The index version this process loaded ({VERSION_PREFIX}{generation}) was "
                "replaced and cleaned up: reload it (restart the command)."
            )

    def _meta(self, conn: psycopg.Connection[Any], columns: tuple[str, ...]) -> Any:
        """The meta row's columns, or None when the schema has no index yet."""
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{self.schema}.meta",)
        ).fetchone()
        if not exists or not exists[0]:
            return None
        return conn.execute(
            sql.SQL("SELECT {} FROM {s}.meta").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), s=self._s
            )
        ).fetchone()

    def _live_keys(self, conn: psycopg.Connection[Any]) -> dict[str, str]:
        """doc_id -> Source.key of the live articles."""
        rows = conn.execute(
            sql.SQL("SELECT doc_id, key FROM {s}.documents WHERE retired IS NULL").format(s=self._s)
        ).fetchall()
        return dict(rows)

    def _stale_reasons(self, expected: dict[str, Any]) -> list[str]:
        """Why the database's index does not match these articles and settings."""
        with self.connection() as conn:
            meta = self._meta(conn, ("manifest", "schema_version"))
            if meta is None:
                return ["no index in the database yet"]
            manifest, schema_version = meta
            reasons = _manifest_reasons(manifest, expected, schema_version)
            stored = self._live_keys(conn)
        reasons += differences({ARTICLES: stored}, {ARTICLES: expected[ARTICLES]})
        return reasons

    def _assemble(
        self,
        generation: int,
        manifest: dict[str, Any],
        dim: int,
        doc_rows: list[Any],
        sentence_rows: list[Any],
        chunk_rows: list[Any],
        word_rows: list[Any],
        embedder: Embedder,
    ) -> LoadedIndex:
        if dim != embedder.dim:
            raise IndexMismatchError(
                f"The database's vectors have dimension {dim}, the model's {embedder.dim}. "
                "Run `rag index` to rebuild it."
            )
        indexed = indexed_roles(self.settings)
        documents: dict[str, Document] = {}
        for doc_id, sha256, origin, text, meta in doc_rows:
            documents[doc_id] = document_from_record(doc_id, text, sha256, origin, meta, indexed)
        sentences: list[Sentence] = []
        annotations: list[SentenceAnnotation] = []
        vectors = np.zeros((len(sentence_rows), dim), dtype=np.float32)
        sentence_positions: dict[int, int] = {}
        first_sentence: dict[str, int] = {}
        for pos, (db_id, doc_id, ordinal, start, end, text, role, note, vec) in enumerate(
            sentence_rows
        ):
            first_sentence.setdefault(doc_id, pos - ordinal)
            sentence_positions[db_id] = pos
            sentences.append(Sentence(pos, doc_id, start, end, text, Role(role)))
            annotations.append(SentenceAnnotation.from_json(note))
            vectors[pos] = _array(vec)
        chunks: list[Chunk] = []
        chunk_positions: dict[int, int] = {}
        for pos, (db_id, doc_id, _ordinal, start, end, text, ordinals) in enumerate(chunk_rows):
            chunk_positions[db_id] = pos
            ids = tuple(first_sentence[doc_id] + o for o in ordinals)
            chunks.append(Chunk(pos, doc_id, start, end, text, ids))
        record = first_mismatch(documents, sentences, chunks)
        if record is not None:
            raise ValueError(
                f"{record.doc_id} at {record.start}-{record.end} does not match its text"
            )
        word_vectors = WordVectors(
            tuple(w for w, _ in word_rows),
            np.array([_array(v) for _, v in word_rows], dtype=np.float32).reshape(-1, dim),
        )
        return LoadedIndex(
            manifest=manifest,
            documents=documents,
            sentences=sentences,
            chunks=chunks,
            chunk_index=PgVectorSearch(self, "chunks", generation, chunk_positions, dim),
            sentence_index=PgVectorSearch(self, "sentences", generation, sentence_positions, dim),
            sentence_vectors=vectors,
            annotations=annotations,
            word_vectors=word_vectors,
            version=f"{VERSION_PREFIX}{generation}",
            lexical=PgBm25(self, generation, chunk_positions),
        )

    # -- writing -----------------------------------------------------------------------------

    def _sync(
        self,
        embedder: Embedder,
        reporter: Reporter | None,
        annotator: Annotator,
        reuse: bool,
    ) -> None:
        """Bring the database to the articles on disk, in one transaction."""
        started = time.perf_counter()
        reporter = reporter or LogReporter()
        with self.connection() as conn, self._writer_lock(conn), conn.transaction():
            # Read only now, holding the lock: a list read before waiting for it could miss
            # an article another writer has added meanwhile, and this write would retire it.
            sources = load_sources(self.settings)
            expected = expected_manifest(self.settings, embedder, sources, annotator)
            meta = self._meta(conn, ("generation", "manifest", "dim", "schema_version"))
            if meta is not None and (meta[2] != embedder.dim or meta[3] != SCHEMA_VERSION):
                # Another model's dimension or an older layout: the tables are remade, in this
                # transaction (readers wait for it to commit, then find the new generation).
                # The generation goes on counting, so no reader mistakes the new tables'
                # rows for its own.
                last_generation = meta[0]
                conn.execute(sql.SQL("DROP SCHEMA {s} CASCADE").format(s=self._s))
                meta = None
            else:
                last_generation = meta[0] if meta else 0
            if meta is None:
                for statement in create_statements(self.schema, embedder.dim):
                    conn.execute(statement)
            generation = last_generation + 1
            full = not reuse or meta is None or bool(_manifest_reasons(meta[1], expected, meta[3]))
            live = self._live_keys(conn)
            changed = [s for s in sources if full or live.get(s.doc_id) != s.key]
            wanted = {s.doc_id for s in sources}
            retire = sorted(
                d for d in live if full or d not in wanted or d in {s.doc_id for s in changed}
            )
            if not full and not changed and not retire:
                return  # another writer brought it up to date while this one waited
            with reporter.step(f"indexing {len(sources)} articles") as step:
                self._retire(conn, retire, generation)
                added = self._add(conn, changed, generation, embedder, annotator, reporter)
                embedded_words, word_count = self._sync_words(conn, embedder, reporter, full)
                counts = self._finish(conn, generation)
                if counts["chunks"] == 0:
                    raise SeedReadError(
                        f"No article text in {self.settings.seeds_dir}: the files are empty or "
                        "every line looks like page furniture (banners, headings, navigation)."
                    )
                manifest = expected | {
                    "store": "pgvector",
                    "index": {
                        "type": "pgvector-hnsw",
                        "chunks": counts["chunks"],
                        "sentences": counts["sentences"],
                        "documents": len(sources),
                        "embedded_chunks": added["chunks"],
                        "embedded_sentences": added["sentences"],
                        "words": word_count,
                        "embedded_words": embedded_words,
                    },
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "build_seconds": round(time.perf_counter() - started, 3),
                    "rag_version": __version__,
                }
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {s}.meta (schema_version, dim, generation, manifest) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (singleton) DO UPDATE SET "
                        "generation = excluded.generation, manifest = excluded.manifest, "
                        "updated_at = now()"
                    ).format(s=self._s),
                    (SCHEMA_VERSION, embedder.dim, generation, json.dumps(manifest)),
                )
                step.detail = f"{counts['chunks']} passages, {counts['sentences']} sentences" + (
                    f" ({added['sentences']} new)" if not full else ""
                )

    @contextmanager
    def _writer_lock(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """One writer per schema, across processes and machines. Taken before the write's
        transaction begins, so that transaction sees everything the previous writer
        committed, the catalog included (a lock taken inside it would not refresh the
        catalog cache). A killed writer's session ends and frees it."""
        key = (f"rag:{self.schema}",)
        # A writer waits for another to finish, and its statements (statistics over every
        # posting, a full rebuild's updates) are bounded by the work, not by the timeout
        # that guards readers' queries.
        conn.execute("SET statement_timeout = 0")
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", key)
        try:
            yield
        finally:
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", key)
                conn.execute("RESET statement_timeout")

    def _retire(self, conn: psycopg.Connection[Any], doc_ids: list[str], generation: int) -> None:
        if not doc_ids:
            return
        ids = [
            r[0]
            for r in conn.execute(
                sql.SQL(
                    "UPDATE {s}.documents SET retired = %s WHERE retired IS NULL "
                    "AND doc_id = ANY(%s) RETURNING id"
                ).format(s=self._s),
                (generation, doc_ids),
            ).fetchall()
        ]
        for table in ("sentences", "chunks"):
            conn.execute(
                sql.SQL(
                    "UPDATE {s}.{t} SET retired = %s WHERE retired IS NULL AND document = ANY(%s)"
                ).format(s=self._s, t=sql.Identifier(table)),
                (generation, ids),
            )

    def _add(
        self,
        conn: psycopg.Connection[Any],
        sources: list[Source],
        generation: int,
        embedder: Embedder,
        annotator: Annotator,
        reporter: Reporter,
    ) -> dict[str, int]:
        """Analyse, embed and annotate `sources`, and insert their rows."""
        indexed = indexed_roles(self.settings)
        docs: list[Document] = []
        per_doc: list[tuple[list[Sentence], list[Chunk]]] = []
        for source in sources:
            doc = load_document(source, indexed)
            sentences = sentences_of(doc, first_id=0)  # ordinals within the article
            chunks = chunk_sentences(
                doc, sentences, self.settings.chunk_sentences, self.settings.chunk_overlap
            )
            docs.append(doc)
            per_doc.append((sentences, chunks))
        all_sentences = [s for sentences, _ in per_doc for s in sentences]
        all_chunks = [c for _, chunks in per_doc for c in chunks]
        settings = self.settings
        sentence_vectors = encode_texts(
            embedder, [s.text for s in all_sentences], settings, "sentences", reporter
        )
        chunk_vectors = encode_texts(
            embedder, [c.text for c in all_chunks], settings, "chunks", reporter
        )
        notes = annotator.sentences([s.text for s in all_sentences])
        s = self._s
        sentence_at = chunk_at = 0
        for source, doc, (sentences, chunks) in zip(sources, docs, per_doc, strict=True):
            row = conn.execute(
                sql.SQL(
                    "INSERT INTO {s}.documents (doc_id, key, sha256, origin, text, meta, words, "
                    "added) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
                ).format(s=s),
                (
                    doc.doc_id,
                    source.key,
                    source.sha256,
                    source.origin,
                    source.text,
                    json.dumps(document_meta(doc)),
                    list(vocabulary(sentence.text for sentence in sentences)),
                    generation,
                ),
            ).fetchone()
            assert row is not None
            document = row[0]
            with conn.cursor().copy(
                sql.SQL(
                    "COPY {s}.sentences (document, doc_id, ordinal, start_offset, end_offset, "
                    "text, role, annotation, embedding, added) FROM STDIN"
                ).format(s=s)
            ) as copy:
                for sentence in sentences:
                    copy.write_row(
                        (
                            document,
                            doc.doc_id,
                            sentence.sent_id,
                            sentence.start,
                            sentence.end,
                            sentence.text,
                            sentence.role.value,
                            json.dumps(notes[sentence_at].to_json()),
                            sentence_vectors[sentence_at],
                            generation,
                        )
                    )
                    sentence_at += 1
            chunk_terms = [postings_of(chunk.text) for chunk in chunks]
            ids = [
                r[0]
                for r in conn.execute(
                    sql.SQL(
                        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                        "FROM generate_series(1, %s)"
                    ),
                    (f"{self.schema}.chunks", len(chunks)),
                ).fetchall()
            ]
            with conn.cursor().copy(
                sql.SQL(
                    "COPY {s}.chunks (id, document, doc_id, ordinal, start_offset, end_offset, "
                    "text, sentence_ordinals, term_count, embedding, added) FROM STDIN"
                ).format(s=s)
            ) as copy:
                for chunk_id, chunk, terms in zip(ids, chunks, chunk_terms, strict=True):
                    copy.write_row(
                        (
                            chunk_id,
                            document,
                            doc.doc_id,
                            chunk.chunk_id,
                            chunk.start,
                            chunk.end,
                            chunk.text,
                            list(chunk.sentence_ids),
                            sum(terms.values()),
                            chunk_vectors[chunk_at],
                            generation,
                        )
                    )
                    chunk_at += 1
            with conn.cursor().copy(
                sql.SQL("COPY {s}.postings (term, chunk, tf) FROM STDIN").format(s=s)
            ) as copy:
                for chunk_id, terms in zip(ids, chunk_terms, strict=True):
                    for term, tf in terms.items():
                        copy.write_row((term, chunk_id, tf))
        return {"sentences": len(all_sentences), "chunks": len(all_chunks)}

    def _sync_words(
        self,
        conn: psycopg.Connection[Any],
        embedder: Embedder,
        reporter: Reporter,
        full: bool,
    ) -> tuple[int, int]:
        """Make the words table the live articles' vocabulary (the union of their `words`),
        embedding only words it lacks (all of them on a full rebuild: the model may have
        changed); returns how many were embedded and how many there are. In SQL: only the
        new words cross the wire."""
        s = self._s
        live = sql.SQL(
            "SELECT DISTINCT u.word FROM {s}.documents AS d, unnest(d.words) AS u(word) "
            "WHERE d.retired IS NULL"
        ).format(s=s)
        if full:
            conn.execute(sql.SQL("DELETE FROM {s}.words").format(s=s))
        else:
            conn.execute(
                sql.SQL("DELETE FROM {s}.words WHERE word NOT IN ({live})").format(s=s, live=live)
            )
        missing = sorted(
            w
            for (w,) in conn.execute(
                sql.SQL("{live} EXCEPT SELECT word FROM {s}.words").format(s=s, live=live)
            )
        )
        vectors = encode_texts(embedder, missing, self.settings, "words", reporter)
        with conn.cursor().copy(
            sql.SQL("COPY {s}.words (word, embedding) FROM STDIN").format(s=s)
        ) as copy:
            for word, vector in zip(missing, vectors, strict=True):
                copy.write_row((word, vector))
        count = conn.execute(sql.SQL("SELECT count(*) FROM {s}.words").format(s=s)).fetchone()
        assert count is not None
        return len(missing), int(count[0])

    def _finish(self, conn: psycopg.Connection[Any], generation: int) -> dict[str, Any]:
        """Drop rows no reader can see any more, refresh BM25's statistics, count."""
        s = self._s
        # Generations no reader can still be using: the newest replaced over RETIRED_GRACE_S
        # ago, and everything before it. Their retired rows and statistics go.
        collectable = sql.SQL(
            "(SELECT coalesce(max(generation), 0) FROM {s}.generations "
            "WHERE created_at < clock_timestamp() - make_interval(secs => %(grace)s))"
        ).format(s=s)
        grace = {"grace": RETIRED_GRACE_S}
        conn.execute(
            sql.SQL("DELETE FROM {s}.documents WHERE retired <= {c}").format(s=s, c=collectable),
            grace,
        )
        conn.execute(
            sql.SQL("DELETE FROM {s}.generations WHERE generation < {c}").format(
                s=s, c=collectable
            ),
            grace,
        )
        # BM25's statistics as the new generation sees them.
        counts = conn.execute(
            sql.SQL(
                "INSERT INTO {s}.generations (generation, chunk_count, avg_chunk_terms) "
                "SELECT %(g)s, count(*), coalesce(avg(term_count), 1) FROM {s}.chunks "
                "WHERE retired IS NULL RETURNING chunk_count, avg_chunk_terms"
            ).format(s=s),
            {"g": generation},
        ).fetchone()
        conn.execute(
            sql.SQL(
                "INSERT INTO {s}.term_stats (generation, term, df) SELECT %(g)s, p.term, count(*) "
                "FROM {s}.postings AS p JOIN {s}.chunks AS c ON c.id = p.chunk "
                "WHERE c.retired IS NULL GROUP BY p.term"
            ).format(s=s),
            {"g": generation},
        )
        sentences = conn.execute(
            sql.SQL("SELECT count(*) FROM {s}.sentences WHERE retired IS NULL").format(s=s)
        ).fetchone()
        assert counts is not None and sentences is not None
        return {"chunks": int(counts[0]), "avg_terms": float(counts[1]), "sentences": sentences[0]}


def _manifest_reasons(
    stored: dict[str, Any], expected: dict[str, Any], schema_version: int
) -> list[str]:
    """What differs apart from the articles (those are the database's own)."""
    reasons = []
    if schema_version != SCHEMA_VERSION:
        reasons.append(
            f"database schema version {schema_version}, this version of rag uses {SCHEMA_VERSION}"
        )
    reasons += differences({**stored, ARTICLES: None}, {**expected, ARTICLES: None})
    return reasons


def _array(vector: Any) -> np.ndarray:
    """A pgvector value as numpy (the binary protocol gives a Vector, text a list)."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# libpq quotes the host names and values it could not use; from a malformed URL those can be
# pieces of the password ("failed to resolve host 'ss@db'" for the password "p@ss").
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def redact(message: str, url: str) -> str:
    """`message` without quoted values and without the URL's password."""
    message = _QUOTED.sub("…", message)
    try:
        password = urlsplit(url).password if "://" in url else None
    except ValueError:
        password = None
    for secret in {password, unquote(password or "")}:
        if secret:
            message = message.replace(secret, "…")
    return message
