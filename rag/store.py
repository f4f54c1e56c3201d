"""The on-disk index: FAISS files + JSON metadata + a manifest, switched in atomically.

Layout under the index folder:
    CURRENT                 name of the live build folder (replaced with os.replace)
    build-<time>-<id>/      manifest.json, chunks.faiss, sentences.faiss, records.json

A build is written to a fresh folder and only then named in CURRENT, so a crash mid-build
leaves the previous build live. A mismatch between the manifest and the seeds/settings
triggers a rebuild (or, with RAG_AUTO_INDEX=false, a clear error).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag import __version__
from rag.chunk import chunk_corpus
from rag.corpus import load_corpus, seed_hashes
from rag.embed import Embedder
from rag.errors import IndexCorruptedError, IndexMismatchError
from rag.settings import Settings
from rag.types import Chunk, Document, Sentence

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
RECORDS = "records.json"
CHUNK_VECTORS = "chunks.faiss"
SENTENCE_VECTORS = "sentences.faiss"
KEEP_BUILDS = 2  # the live build and the one before it

Progress = Callable[[str, int, int], None]


@dataclass
class LoadedIndex:
    manifest: dict[str, Any]
    documents: dict[str, Document]
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_index: faiss.Index
    sentence_index: faiss.Index
    sentence_vectors: np.ndarray
    path: Path


def expected_manifest(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """The parts of a manifest that must match for a stored index to be reused."""
    return {
        "format_version": FORMAT_VERSION,
        "embedding": {
            "model_id": embedder.model_id,
            "backend": settings.embed_backend,
            "dim": embedder.dim,
        },
        "chunking": {
            "sentences": settings.chunk_sentences,
            "overlap": settings.chunk_overlap,
            "segmenter": "pysbd",
        },
        "seeds": seed_hashes(settings.seeds_dir),
    }


def make_faiss_index(vectors: np.ndarray, settings: Settings) -> faiss.Index:
    """Exact inner product for small corpora, HNSW (graph, approximate) above the threshold."""
    n, dim = vectors.shape
    index: faiss.Index
    if n >= settings.hnsw_threshold:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


def _current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def _diff(stored: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    reasons = []
    for key, want in expected.items():
        have = stored.get(key)
        if have == want:
            continue
        if key == "seeds" and isinstance(have, dict):
            changed = sorted(set(have) ^ set(want) | {k for k in want if have.get(k) != want[k]})
            reasons.append(f"seed files changed: {', '.join(changed)}")
        else:
            reasons.append(f"{key} differs (index has {have!r}, settings want {want!r})")
    return reasons


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def build_index(
    settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> LoadedIndex:
    """Build from the seeds into a new folder, then switch CURRENT to it atomically."""
    started = time.perf_counter()
    manifest = expected_manifest(settings, embedder)
    documents = load_corpus(settings.seeds_dir)
    sentences, chunks = chunk_corpus(documents, settings.chunk_sentences, settings.chunk_overlap)
    chunk_vectors = _encode(embedder, [c.text for c in chunks], settings, "chunks", progress)
    sentence_vectors = _encode(
        embedder, [s.text for s in sentences], settings, "sentences", progress
    )
    chunk_index = make_faiss_index(chunk_vectors, settings)
    sentence_index = make_faiss_index(sentence_vectors, settings)

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    build = Path(tempfile.mkdtemp(prefix=f"build-{stamp}-", dir=settings.index_dir))
    try:
        faiss.write_index(chunk_index, str(build / CHUNK_VECTORS))
        faiss.write_index(sentence_index, str(build / SENTENCE_VECTORS))
        records = {
            "sentences": [asdict(s) for s in sentences],
            "chunks": [asdict(c) for c in chunks],
        }
        _fsync_write(build / RECORDS, json.dumps(records, ensure_ascii=False).encode("utf-8"))
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
        _fsync_write(build / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
        _switch_current(settings.index_dir, build.name)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    _remove_old_builds(settings.index_dir, keep=build.name)
    return LoadedIndex(
        manifest=manifest,
        documents={d.doc_id: d for d in documents},
        sentences=sentences,
        chunks=chunks,
        chunk_index=chunk_index,
        sentence_index=sentence_index,
        sentence_vectors=sentence_vectors,
        path=build,
    )


def _encode(
    embedder: Embedder, texts: list[str], settings: Settings, label: str, progress: Progress | None
) -> np.ndarray:
    batch = settings.embed_batch_size
    parts = []
    for i in range(0, len(texts), batch):
        parts.append(embedder.encode(texts[i : i + batch], batch_size=batch))
        if progress:
            progress(label, min(i + batch, len(texts)), len(texts))
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def _switch_current(index_dir: Path, build_name: str) -> None:
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    _fsync_write(tmp, build_name.encode("utf-8"))
    os.replace(tmp, index_dir / CURRENT)


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    builds = sorted(
        (p for p in index_dir.glob("build-*") if p.is_dir() and p.name != keep),
        key=lambda p: p.stat().st_mtime,
    )
    for old in builds[: max(len(builds) - (KEEP_BUILDS - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)


def load_index(settings: Settings, embedder: Embedder) -> LoadedIndex:
    """Load the live build; IndexMismatchError if stale, IndexCorruptedError if unreadable."""
    build = _current_build(settings.index_dir)
    if build is None:
        raise IndexMismatchError(f"No index in {settings.index_dir}. Run `rag index` to build it.")
    fix = f"Run `rag index` to rebuild it (or delete {settings.index_dir})."
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptedError(
            f"Index manifest in {build} is unreadable ({exc}). {fix}"
        ) from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptedError(f"Index manifest in {build} is not a JSON object. {fix}")
    reasons = _diff(manifest, expected_manifest(settings, embedder))
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
        chunk_index = faiss.read_index(str(build / CHUNK_VECTORS))
        sentence_index = faiss.read_index(str(build / SENTENCE_VECTORS))
        sentence_vectors = _vectors_of(sentence_index, len(sentences))
    except Exception as exc:  # faiss raises RuntimeError, JSON/KeyError/TypeError for bad records
        raise IndexCorruptedError(f"Index files in {build} are corrupted ({exc}). {fix}") from exc
    if chunk_index.ntotal != len(chunks) or len(sentence_vectors) != len(sentences):
        raise IndexCorruptedError(
            f"Index in {build} is inconsistent: {chunk_index.ntotal} vectors for {len(chunks)} "
            f"chunks, {len(sentence_vectors)} for {len(sentences)} sentences. {fix}"
        )
    if chunk_index.d != embedder.dim:
        raise IndexMismatchError(
            f"Index dimension {chunk_index.d} does not match the model's {embedder.dim}. {fix}"
        )
    documents = {d.doc_id: d for d in load_corpus(settings.seeds_dir)}
    return LoadedIndex(
        manifest=manifest,
        documents=documents,
        sentences=sentences,
        chunks=chunks,
        chunk_index=chunk_index,
        sentence_index=sentence_index,
        sentence_vectors=np.ascontiguousarray(sentence_vectors, dtype=np.float32),
        path=build,
    )


def _vectors_of(index: faiss.Index, n: int) -> np.ndarray:
    """Stored vectors back out of a flat or HNSW index (the answer stage scores sentences)."""
    if isinstance(index, faiss.IndexHNSWFlat):
        return faiss.downcast_index(index.storage).reconstruct_n(0, n)
    return index.reconstruct_n(0, n)


def ensure_index(
    settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> LoadedIndex:
    """Load the index, building it on first use and rebuilding when seeds or settings change."""
    try:
        return load_index(settings, embedder)
    except IndexMismatchError as exc:
        if not settings.auto_index:
            raise
        log.info("%s Rebuilding.", exc)
        return build_index(settings, embedder, progress)
