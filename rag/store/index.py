"""Build, load and keep fresh the on-disk index (FAISS files + JSON records + a manifest).

A build is written to a fresh folder (every file fsynced) and only then named in CURRENT,
so a crash mid-build leaves the previous build live. Builds, switches and pruning happen under
an exclusive lock, so processes starting together (`rag serve --workers N`) build once. A
missing or unreadable CURRENT, or a manifest that differs from the seeds, the model (its
fingerprint) or the settings, triggers a rebuild (or, with RAG_AUTO_INDEX=false, a clear
error); damaged index files are reported, never silently replaced.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag import __version__
from rag.analyze import Annotator, SentenceAnnotation
from rag.embed import Embedder
from rag.errors import IndexCorruptedError, IndexMismatchError, SeedReadError
from rag.files import atomic_write, fsync_dir
from rag.ingest import chunk_corpus, load_corpus
from rag.progress import LogReporter, Reporter
from rag.settings import Settings
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
from rag.store.manifest import MANIFEST, differences, expected_manifest
from rag.types import Chunk, Document, Sentence

log = logging.getLogger(__name__)

RECORDS = "records.json"
ANNOTATIONS = "annotations.json"  # spaCy analysis of each sentence, in sentence order
CHUNK_VECTORS = "chunks.faiss"
SENTENCE_VECTORS = "sentences.faiss"


@dataclass
class LoadedIndex:
    manifest: dict[str, Any]
    documents: dict[str, Document]  # by doc_id
    sentences: list[Sentence]  # sent_id is the position
    chunks: list[Chunk]  # chunk_id is the position
    chunk_index: faiss.Index
    sentence_index: faiss.Index
    sentence_vectors: np.ndarray  # (len(sentences), dim) float32, rows L2-normalised
    annotations: list[SentenceAnnotation]  # one per sentence
    path: Path


def build_index(
    settings: Settings,
    embedder: Embedder,
    reporter: Reporter | None = None,
    annotator: Annotator | None = None,
) -> LoadedIndex:
    """Build from the seeds into a new folder, then switch CURRENT to it atomically."""
    with build_lock(settings.index_dir):
        return _build_locked(settings, embedder, reporter or LogReporter(), annotator)


def _build_locked(
    settings: Settings, embedder: Embedder, reporter: Reporter, annotator: Annotator | None
) -> LoadedIndex:
    started = time.perf_counter()
    annotator = annotator or Annotator()
    if settings.index_dir.is_dir():
        remove_leftovers(settings.index_dir)
    documents = load_corpus(settings.seeds_dir)
    with reporter.step(f"indexing {len(documents)} articles") as step:
        manifest = expected_manifest(settings, embedder, documents, annotator)
        sentences, chunks = chunk_corpus(
            documents, settings.chunk_sentences, settings.chunk_overlap
        )
        if not chunks:
            raise SeedReadError(
                f"No article text in {settings.seeds_dir}: the files are empty or every line "
                "looks like page junk (banners, headings, bylines)."
            )
        chunk_vectors = _encode(embedder, [c.text for c in chunks], settings, "chunks", reporter)
        sentence_vectors = _encode(
            embedder, [s.text for s in sentences], settings, "sentences", reporter
        )
        annotations = annotator.sentences([s.text for s in sentences])
        chunk_index = make_faiss_index(chunk_vectors, settings)
        sentence_index = make_faiss_index(sentence_vectors, settings)
        build = new_build_folder(settings.index_dir)
        try:
            _write_faiss(chunk_index, build / CHUNK_VECTORS)
            _write_faiss(sentence_index, build / SENTENCE_VECTORS)
            records = {
                "sentences": [asdict(s) for s in sentences],
                "chunks": [asdict(c) for c in chunks],
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
                    "documents": len(documents),
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
        step.detail = f"{len(chunks)} passages, {len(sentences)} sentences"
    return _assemble(
        manifest,
        documents,
        sentences,
        chunks,
        chunk_index,
        sentence_index,
        sentence_vectors,
        annotations,
        build,
    )


# Module-level names so tests can interrupt a build at a chosen write.
_write_faiss = write_faiss
_switch_current = switch_current


def _encode(
    embedder: Embedder, texts: list[str], settings: Settings, label: str, reporter: Reporter
) -> np.ndarray:
    """Vectors in the order of `texts`, encoded in length-sorted batches: a batch pads to its
    longest text, so mixing lengths wastes most of the work (2.4x, benchmarks/ingest.py)."""
    batch = settings.embed_batch_size
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    reporter.progress(f"embedding {label}", 0, len(texts))
    for i in range(0, len(order), batch):
        ids = order[i : i + batch]
        out[ids] = embedder.encode([texts[j] for j in ids], batch_size=batch)
        reporter.progress(f"embedding {label}", min(i + batch, len(texts)), len(texts))
    return out


def load_index(
    settings: Settings, embedder: Embedder, annotator: Annotator | None = None
) -> LoadedIndex:
    """Load the live build; IndexMismatchError if stale, IndexCorruptedError if unreadable."""
    build = current_build(settings.index_dir)
    if build is None:
        raise IndexMismatchError(f"No index in {settings.index_dir}. Run `rag index` to build it.")
    documents = load_corpus(settings.seeds_dir)
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
        manifest, expected_manifest(settings, embedder, documents, annotator or Annotator())
    )
    if reasons:
        raise IndexMismatchError(
            f"The index in {build} is out of date: {'; '.join(reasons)}. {fix}"
        )
    try:
        records = json.loads((build / RECORDS).read_text(encoding="utf-8"))
        sentences = [Sentence(**s) for s in records["sentences"]]
        chunks = [
            Chunk(**{**c, "sentence_ids": tuple(c["sentence_ids"])}) for c in records["chunks"]
        ]
        chunk_index = read_faiss(build / CHUNK_VECTORS)
        sentence_index = read_faiss(build / SENTENCE_VECTORS)
        sentence_vectors = stored_vectors(sentence_index, len(sentences))
        annotations = [
            SentenceAnnotation.from_json(row)
            for row in json.loads((build / ANNOTATIONS).read_text(encoding="utf-8"))
        ]
    except Exception as exc:  # faiss raises RuntimeError, JSON/KeyError/TypeError for bad records
        raise IndexCorruptedError(f"Index files in {build} are corrupted ({exc}). {fix}") from exc
    if (
        chunk_index.ntotal != len(chunks)
        or len(sentence_vectors) != len(sentences)
        or len(annotations) != len(sentences)
    ):
        raise IndexCorruptedError(
            f"Index in {build} is inconsistent: {chunk_index.ntotal} vectors for {len(chunks)} "
            f"chunks, {len(sentence_vectors)} vectors and {len(annotations)} annotations for "
            f"{len(sentences)} sentences. {fix}"
        )
    if chunk_index.d != embedder.dim:
        raise IndexMismatchError(
            f"Index dimension {chunk_index.d} does not match the model's {embedder.dim}. {fix}"
        )
    texts = {d.doc_id: d.text for d in documents}
    records_by_span: list[Sentence | Chunk] = [*sentences, *chunks]
    for record in records_by_span:
        text = texts.get(record.doc_id)
        if text is None or text[record.start : record.end] != record.text:
            raise IndexCorruptedError(
                f"Index in {build} does not match {record.doc_id} at {record.start}-{record.end}. "
                f"{fix}"
            )
    return _assemble(
        manifest,
        documents,
        sentences,
        chunks,
        chunk_index,
        sentence_index,
        sentence_vectors,
        annotations,
        build,
    )


def _assemble(
    manifest: dict[str, Any],
    documents: list[Document],
    sentences: list[Sentence],
    chunks: list[Chunk],
    chunk_index: faiss.Index,
    sentence_index: faiss.Index,
    sentence_vectors: np.ndarray,
    annotations: list[SentenceAnnotation],
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
            return _build_locked(settings, embedder, reporter or LogReporter(), annotator)
