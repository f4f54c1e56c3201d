"""Build, load and keep fresh the on-disk index (FAISS files + JSON records + a manifest).

A build is written to a fresh folder (every file fsynced) and only then named in CURRENT,
so a crash mid-build leaves the previous build live. Builds, switches and pruning happen under
an exclusive lock, so processes starting together (`rag serve --workers N`) build once. A
missing or unreadable CURRENT, or a manifest that differs from the seeds, the model (its
fingerprint) or the settings, triggers a rebuild (or, with RAG_AUTO_INDEX=false, a clear
error); damaged index files are reported, never silently replaced.

Builds are incremental: an article whose key (its text hash, given metadata and the layout
rules, `Source.key`) matches the live build's keeps its roles, metadata, sentences, chunks,
vectors and annotations; only new or changed articles are analysed, embedded and annotated,
and only words the live build has no vector for are embedded.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag import __version__
from rag.analyze import Annotator, SentenceAnnotation
from rag.embed import Embedder, WordVectors
from rag.errors import IndexCorruptedError, IndexMismatchError, SeedReadError
from rag.files import atomic_write, fsync_dir
from rag.ingest.chunk import chunk_sentences
from rag.ingest.corpus import indexed_roles, load_document
from rag.ingest.sentences import sentences_of
from rag.ingest.sources import Source, load_sources
from rag.progress import LogReporter, Reporter
from rag.settings import Settings
from rag.store.base import LexicalSearch, VectorSearch
from rag.store.faiss_index import make_faiss_index, read_faiss, stored_vectors, write_faiss
from rag.store.layout import (
    build_lock,
    clean_leftovers,
    current_build,
    new_build_folder,
    remove_leftovers,
    remove_old_builds,
    switch_current,
)
from rag.store.manifest import ARTICLES, MANIFEST, differences, expected_manifest
from rag.store.records import document_from_meta, document_meta, encode_texts
from rag.text import vocabulary
from rag.types import Chunk, Document, Role, Sentence

log = logging.getLogger(__name__)

RECORDS = "records.json"
ANNOTATIONS = "annotations.json"  # spaCy analysis of each sentence, in sentence order
CHUNK_VECTORS = "chunks.faiss"
SENTENCE_VECTORS = "sentences.faiss"
WORD_VECTORS = "words.faiss"  # rows in the order of records.json's "words"


@dataclass
class LoadedIndex:
    """One version of the index, whichever store it came from; read-only once made."""

    manifest: dict[str, Any]
    documents: dict[str, Document]  # by doc_id
    sentences: list[Sentence]  # sent_id is the position
    chunks: list[Chunk]  # chunk_id is the position
    chunk_index: VectorSearch  # a faiss.Index, or the database's search
    sentence_index: VectorSearch
    sentence_vectors: np.ndarray  # (len(sentences), dim) float32, rows L2-normalised
    annotations: list[SentenceAnnotation]  # one per sentence
    word_vectors: WordVectors  # the sentences' vocabulary (rag.text.vocabulary), embedded
    version: str  # the build folder's name, or the database generation ("pg-12")
    path: Path | None = None  # the build folder (file store only)
    # The store's own lexical ranking (the database's BM25); None: the retriever builds
    # BM25 in memory from the chunks.
    lexical: LexicalSearch | None = None


def build_index(
    settings: Settings,
    embedder: Embedder,
    reporter: Reporter | None = None,
    annotator: Annotator | None = None,
    reuse: bool = True,
) -> LoadedIndex:
    """Build from the articles into a new folder, then switch CURRENT to it atomically;
    `reuse=False` recomputes every article instead of copying unchanged ones."""
    with build_lock(settings.index_dir):
        return build_locked(settings, embedder, reporter, annotator, reuse)


def build_locked(
    settings: Settings,
    embedder: Embedder,
    reporter: Reporter | None,
    annotator: Annotator | None,
    reuse: bool = True,
) -> LoadedIndex:
    """Build into a new folder and switch CURRENT to it; the caller holds the build lock.
    Articles unchanged since the live build are copied from it, not recomputed."""
    started = time.perf_counter()
    reporter = reporter or LogReporter()
    annotator = annotator or Annotator()
    if settings.index_dir.is_dir():
        remove_leftovers(settings.index_dir)
    sources = load_sources(settings)
    manifest = expected_manifest(settings, embedder, sources, annotator)
    previous = _reusable_build(settings, manifest) if reuse else None
    plan = _plan(sources, previous, settings)
    with reporter.step(f"indexing {len(sources)} articles") as step:
        sentences, chunks = plan.sentences, plan.chunks
        if not chunks:
            raise SeedReadError(
                f"No article text in {settings.seeds_dir}: the files are empty or every line "
                "looks like page furniture (banners, headings, navigation)."
            )
        new_chunks = [i for i, ref in enumerate(plan.chunk_from) if ref is None]
        new_sentences = [i for i, ref in enumerate(plan.sentence_from) if ref is None]
        fresh_chunks = encode_texts(
            embedder, [chunks[i].text for i in new_chunks], settings, "chunks", reporter
        )
        fresh_sentences = encode_texts(
            embedder, [sentences[i].text for i in new_sentences], settings, "sentences", reporter
        )
        fresh_notes = annotator.sentences([sentences[i].text for i in new_sentences])
        # A word's vector depends on the model alone: the live build's are kept.
        words = vocabulary(s.text for s in sentences)
        old_words = previous.word_vectors.rows() if previous else {}
        word_from = [old_words.get(w) for w in words]
        new_words = [i for i, ref in enumerate(word_from) if ref is None]
        fresh_words = encode_texts(
            embedder, [words[i] for i in new_words], settings, "words", reporter
        )
        word_vectors = WordVectors(
            words,
            _merge(
                word_from,
                previous.word_vectors.vectors if previous else None,
                new_words,
                fresh_words,
                embedder.dim,
            ),
        )
        chunk_vectors = _merge(
            plan.chunk_from,
            previous.chunk_vectors if previous else None,
            new_chunks,
            fresh_chunks,
            embedder.dim,
        )
        sentence_vectors = _merge(
            plan.sentence_from,
            previous.sentence_vectors if previous else None,
            new_sentences,
            fresh_sentences,
            embedder.dim,
        )
        old_notes = previous.annotations if previous else []
        fresh_iter = iter(fresh_notes)
        annotations = [
            old_notes[ref] if ref is not None else next(fresh_iter) for ref in plan.sentence_from
        ]
        chunk_index = make_faiss_index(chunk_vectors, settings)
        sentence_index = make_faiss_index(sentence_vectors, settings)
        build = new_build_folder(settings.index_dir)
        try:
            _write_faiss(chunk_index, build / CHUNK_VECTORS)
            _write_faiss(sentence_index, build / SENTENCE_VECTORS)
            _write_faiss(_flat(word_vectors.vectors, embedder.dim), build / WORD_VECTORS)
            records = {
                "documents": {
                    d.doc_id: {"key": s.key, "meta": document_meta(d)}
                    for s, d in zip(sources, plan.documents, strict=True)
                },
                "sentences": [asdict(s) for s in sentences],
                "chunks": [asdict(c) for c in chunks],
                "words": list(word_vectors.words),
            }
            atomic_write(build / RECORDS, json.dumps(records, ensure_ascii=False).encode("utf-8"))
            atomic_write(
                build / ANNOTATIONS,
                json.dumps([a.to_json() for a in annotations], ensure_ascii=False).encode("utf-8"),
            )
            manifest |= {
                "index": {
                    "type": type(chunk_index).__name__,
                    "chunks": len(chunks),
                    "sentences": len(sentences),
                    "documents": len(sources),
                    # what this build computed; the rest was copied from the previous build
                    "embedded_chunks": len(new_chunks),
                    "embedded_sentences": len(new_sentences),
                    "words": len(word_vectors.words),
                    "embedded_words": len(new_words),
                },
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "build_seconds": round(time.perf_counter() - started, 3),
                "rag_version": __version__,
            }
            atomic_write(build / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
            fsync_dir(build)
            _switch_current(settings.index_dir, build.name)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        remove_old_builds(settings.index_dir, keep=build.name)
        step.detail = f"{len(chunks)} passages, {len(sentences)} sentences" + (
            f" ({len(new_sentences)} new)" if previous else ""
        )
    return _assemble(
        manifest,
        plan.documents,
        sentences,
        chunks,
        chunk_index,
        sentence_index,
        sentence_vectors,
        annotations,
        word_vectors,
        build,
    )


def _flat(vectors: np.ndarray, dim: int) -> faiss.Index:
    """Vectors kept in a flat FAISS index: the store's vector file format, read back whole."""
    index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


@dataclass
class _Reusable:
    """The parts of the live build an incremental build may copy."""

    keys: dict[str, str]  # doc_id -> Source.key
    documents: dict[str, dict[str, Any]]  # doc_id -> stored metadata
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    annotations: list[SentenceAnnotation]
    word_vectors: WordVectors


def _reusable_build(settings: Settings, manifest: dict[str, Any]) -> _Reusable | None:
    """The live build, if it was made with the same model, settings and annotator (only its
    articles may differ) and reads back whole; None otherwise (then everything is built)."""
    build = current_build(settings.index_dir)
    if build is None:
        return None
    try:
        stored = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        if differences({**stored, ARTICLES: None}, {**manifest, ARTICLES: None}):
            return None
        parts = _read_build(build)
        return _Reusable(
            keys={k: v["key"] for k, v in parts.documents.items()},
            documents={k: v["meta"] for k, v in parts.documents.items()},
            sentences=parts.sentences,
            chunks=parts.chunks,
            chunk_vectors=stored_vectors(parts.chunk_index, len(parts.chunks)),
            sentence_vectors=parts.sentence_vectors,
            annotations=parts.annotations,
            word_vectors=parts.word_vectors,
        )
    except Exception as exc:  # a damaged previous build: just build everything
        log.info("Not reusing the build in %s (%s).", build, exc)
        return None


@dataclass
class _Plan:
    documents: list[Document]
    sentences: list[Sentence]
    chunks: list[Chunk]
    sentence_from: list[int | None]  # row in the previous build, None when new
    chunk_from: list[int | None]


def _plan(sources: list[Source], previous: _Reusable | None, settings: Settings) -> _Plan:
    """Documents, sentences and chunks of the new build, each noting where it is copied from."""
    plan = _Plan([], [], [], [], [])
    indexed = indexed_roles(settings)
    old_sentences: dict[str, list[Sentence]] = {}
    old_chunks: dict[str, list[Chunk]] = {}
    if previous:
        for sentence in previous.sentences:
            old_sentences.setdefault(sentence.doc_id, []).append(sentence)
        for chunk in previous.chunks:
            old_chunks.setdefault(chunk.doc_id, []).append(chunk)
    for source in sources:
        if previous and previous.keys.get(source.doc_id) == source.key:
            plan.documents.append(
                document_from_meta(source, previous.documents[source.doc_id], indexed)
            )
            renumber: dict[int, int] = {}
            for old in old_sentences.get(source.doc_id, []):
                renumber[old.sent_id] = len(plan.sentences)
                plan.sentences.append(replace(old, sent_id=len(plan.sentences)))
                plan.sentence_from.append(old.sent_id)
            for chunk in old_chunks.get(source.doc_id, []):
                ids = tuple(renumber[i] for i in chunk.sentence_ids)
                plan.chunks.append(replace(chunk, chunk_id=len(plan.chunks), sentence_ids=ids))
                plan.chunk_from.append(chunk.chunk_id)
            continue
        doc = load_document(source, indexed)
        plan.documents.append(doc)
        doc_sentences = sentences_of(doc, first_id=len(plan.sentences))
        doc_chunks = chunk_sentences(
            doc,
            doc_sentences,
            settings.chunk_sentences,
            settings.chunk_overlap,
            first_id=len(plan.chunks),
        )
        plan.sentences += doc_sentences
        plan.sentence_from += [None] * len(doc_sentences)
        plan.chunks += doc_chunks
        plan.chunk_from += [None] * len(doc_chunks)
    return plan


def _merge(
    refs: list[int | None],
    old: np.ndarray | None,
    new_rows: list[int],
    fresh: np.ndarray,
    dim: int,
) -> np.ndarray:
    """Rows copied from the previous build's vectors, or freshly encoded."""
    out = np.zeros((len(refs), dim), dtype=np.float32)
    copied = [(i, ref) for i, ref in enumerate(refs) if ref is not None]
    if copied and old is not None:
        out[[i for i, _ in copied]] = old[[ref for _, ref in copied]]
    if new_rows:
        out[new_rows] = fresh
    return out


# Module-level names so tests can interrupt a build at a chosen write.
_write_faiss = write_faiss
_switch_current = switch_current


@dataclass
class _BuildParts:
    documents: dict[str, dict[str, Any]]  # doc_id -> {"key", "meta"}
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_index: faiss.Index
    sentence_index: faiss.Index
    sentence_vectors: np.ndarray
    annotations: list[SentenceAnnotation]
    word_vectors: WordVectors


def _read_build(build: Path) -> _BuildParts:
    """A build folder's records, vectors and annotations, checked for consistency; any
    exception means the folder is damaged."""
    records = json.loads((build / RECORDS).read_text(encoding="utf-8"))
    sentences = [Sentence(**{**s, "role": Role(s["role"])}) for s in records["sentences"]]
    chunks = [Chunk(**{**c, "sentence_ids": tuple(c["sentence_ids"])}) for c in records["chunks"]]
    chunk_index = read_faiss(build / CHUNK_VECTORS)
    sentence_index = read_faiss(build / SENTENCE_VECTORS)
    sentence_vectors = stored_vectors(sentence_index, len(sentences))
    annotations = [
        SentenceAnnotation.from_json(row)
        for row in json.loads((build / ANNOTATIONS).read_text(encoding="utf-8"))
    ]
    words = tuple(records["words"])
    word_index = read_faiss(build / WORD_VECTORS)
    word_vectors = WordVectors(
        words,
        stored_vectors(word_index, len(words))
        if words
        else np.zeros((0, word_index.d), dtype=np.float32),
    )
    if (
        chunk_index.ntotal != len(chunks)
        or len(sentence_vectors) != len(sentences)
        or len(annotations) != len(sentences)
        or word_index.ntotal != len(words)
    ):
        raise ValueError(
            f"{chunk_index.ntotal} vectors for {len(chunks)} chunks, {len(sentence_vectors)} "
            f"vectors and {len(annotations)} annotations for {len(sentences)} sentences, "
            f"{word_index.ntotal} vectors for {len(words)} words"
        )
    return _BuildParts(
        dict(records["documents"]),
        sentences,
        chunks,
        chunk_index,
        sentence_index,
        sentence_vectors,
        annotations,
        word_vectors,
    )


def load_index(
    settings: Settings, embedder: Embedder, annotator: Annotator | None = None
) -> LoadedIndex:
    """Load the live build; IndexMismatchError if stale, IndexCorruptedError if unreadable."""
    build = current_build(settings.index_dir)
    if build is None:
        raise IndexMismatchError(f"No index in {settings.index_dir}. Run `rag index` to build it.")
    sources = load_sources(settings)
    fix = f"Run `rag index` to rebuild it (or delete {settings.index_dir})."
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptedError(
            f"Index manifest in {build} is unreadable ({exc}). {fix}"
        ) from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptedError(f"Index manifest in {build} is not a JSON object. {fix}")
    reasons = differences(
        manifest, expected_manifest(settings, embedder, sources, annotator or Annotator())
    )
    if reasons:
        raise IndexMismatchError(
            f"The index in {build} is out of date: {'; '.join(reasons)}. {fix}"
        )
    try:
        parts = _read_build(build)
        indexed = indexed_roles(settings)
        documents = [
            document_from_meta(s, parts.documents[s.doc_id]["meta"], indexed) for s in sources
        ]
    except Exception as exc:  # faiss raises RuntimeError, JSON/KeyError/TypeError for bad records
        raise IndexCorruptedError(f"Index files in {build} are corrupted ({exc}). {fix}") from exc
    if parts.chunk_index.d != embedder.dim:
        raise IndexMismatchError(
            f"Index dimension {parts.chunk_index.d} does not match the model's {embedder.dim}. "
            f"{fix}"
        )
    record = first_mismatch({d.doc_id: d for d in documents}, parts.sentences, parts.chunks)
    if record is not None:
        raise IndexCorruptedError(
            f"Index in {build} does not match {record.doc_id} at {record.start}-{record.end}. {fix}"
        )
    return _assemble(
        manifest,
        documents,
        parts.sentences,
        parts.chunks,
        parts.chunk_index,
        parts.sentence_index,
        parts.sentence_vectors,
        parts.annotations,
        parts.word_vectors,
        build,
    )


def first_mismatch(
    documents: dict[str, Document], sentences: list[Sentence], chunks: list[Chunk]
) -> Sentence | Chunk | None:
    """The first sentence or chunk whose text is not its document's text at its offsets
    (what every citation relies on), or None."""
    records: list[Sentence | Chunk] = [*sentences, *chunks]
    for record in records:
        doc = documents.get(record.doc_id)
        if doc is None or doc.text[record.start : record.end] != record.text:
            return record
    return None


def stored_documents(settings: Settings, sources: list[Source]) -> dict[str, Document]:
    """The live build's analysed documents for the sources it has unchanged (by key); empty
    when there is no readable build. Cheap: records.json only, no vectors, no model."""
    build = current_build(settings.index_dir)
    if build is None:
        return {}
    try:
        stored = json.loads((build / RECORDS).read_text(encoding="utf-8"))["documents"]
        return {
            s.doc_id: document_from_meta(s, stored[s.doc_id]["meta"], indexed_roles(settings))
            for s in sources
            if stored.get(s.doc_id, {}).get("key") == s.key
        }
    except Exception:  # damaged or older records: the caller analyses the articles itself
        return {}


def _assemble(
    manifest: dict[str, Any],
    documents: list[Document],
    sentences: list[Sentence],
    chunks: list[Chunk],
    chunk_index: faiss.Index,
    sentence_index: faiss.Index,
    sentence_vectors: np.ndarray,
    annotations: list[SentenceAnnotation],
    word_vectors: WordVectors,
    build: Path,
) -> LoadedIndex:
    return LoadedIndex(
        manifest=manifest,
        documents={d.doc_id: d for d in documents},
        sentences=sentences,
        chunks=chunks,
        chunk_index=chunk_index,
        sentence_index=sentence_index,
        sentence_vectors=np.ascontiguousarray(sentence_vectors, dtype=np.float32),
        annotations=annotations,
        word_vectors=word_vectors,
        version=build.name,
        path=build,
    )


def ensure_index(
    settings: Settings,
    embedder: Embedder,
    reporter: Reporter | None = None,
    annotator: Annotator | None = None,
) -> LoadedIndex:
    """Load the index, building it on first use and rebuilding when seeds or settings change."""
    annotator = annotator or Annotator()
    clean_leftovers(settings.index_dir)
    try:
        return load_index(settings, embedder, annotator)
    except IndexMismatchError as exc:
        if not settings.auto_index:
            raise
        log.info("%s Rebuilding.", exc)
    with build_lock(settings.index_dir):
        try:  # another process may have rebuilt it while this one waited for the lock
            return load_index(settings, embedder, annotator)
        except IndexMismatchError:
            return build_locked(settings, embedder, reporter, annotator)
