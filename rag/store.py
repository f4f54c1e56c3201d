"""The on-disk index: FAISS files + JSON metadata + a manifest, switched in atomically.

Layout under the index folder:
    CURRENT                 name of the live build folder (replaced with os.replace)
    build-<time>-<id>/      manifest.json, chunks.faiss, sentences.faiss, records.json

A build is written to a fresh folder (every file fsynced) and only then named in CURRENT,
so a crash mid-build leaves the previous build live. Builds, switches and pruning happen under
an exclusive lock on `.lock`, so processes starting together (`rag serve --workers N`) build
once. A missing or unreadable CURRENT, or a manifest that differs from the seeds, the model
(its fingerprint) or the settings, triggers a rebuild (or, with RAG_AUTO_INDEX=false, a clear
error); damaged index files are reported, never silently replaced.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag import __version__
from rag.chunk import chunk_corpus
from rag.corpus import METADATA_FILE, load_corpus, sha256_bytes
from rag.embed import Embedder
from rag.errors import IndexCorruptedError, IndexMismatchError, SeedReadError
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
LOCK = ".lock"
_BUILD_NAME = re.compile(r"build-[\w-]+")

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


def expected_manifest(
    settings: Settings, embedder: Embedder, documents: list[Document]
) -> dict[str, Any]:
    """The parts of a manifest that must match for a stored index to be reused.

    Seed hashes come from the very bytes the documents were decoded from, so the offsets
    cited later always refer to the text that was indexed.
    """
    seeds = {d.doc_id: d.sha256 for d in documents}
    sidecar = settings.seeds_dir / METADATA_FILE
    if sidecar.is_file():
        seeds[METADATA_FILE] = sha256_bytes(sidecar.read_bytes())
    return {
        "format_version": FORMAT_VERSION,
        "embedding": {
            "model_id": embedder.model_id,
            # which weights: another model folder with the same id and dimension must not
            # reuse these vectors
            "fingerprint": getattr(embedder, "fingerprint", embedder.model_id),
            "backend": settings.embed_backend,
            "dim": embedder.dim,
        },
        "chunking": {
            "sentences": settings.chunk_sentences,
            "overlap": settings.chunk_overlap,
            "segmenter": "pysbd",
        },
        "index_settings": {"hnsw_threshold": settings.hnsw_threshold},
        "seeds": seeds,
    }


# HNSW parameters, chosen on real MiniLM vectors (benchmarks/scale.py, docs/performance.md):
# M=32 links per node (64 on the bottom layer) and efConstruction=80 give recall@10 against
# exact search of 0.998 at 1e5 vectors with efSearch=128, and 0.987 / 0.996 at 1e6 with
# efSearch=128 / 256 (0.6 / 1.1 ms a query). efSearch is the candidate list a query explores
# (searches ask for <= 40 hits); it grows with the index to keep recall >= 0.98.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
HNSW_EF_SEARCH_LARGE = 256  # from HNSW_LARGE vectors on
HNSW_LARGE = 500_000


def hnsw_bytes_per_vector(dim: int, m: int = HNSW_M) -> float:
    """Theoretical memory of one vector in IndexHNSWFlat.

    4*d (float32 vector) + 2*M*4 (level-0 links) + M*4/(M-1) (links on upper levels: a node
    reaches level l with probability M**-l) + 4 (its level) + 8 (its offset into the links).
    """
    return 4 * dim + 2 * m * 4 + m * 4 / (m - 1) + 4 + 8


def make_faiss_index(vectors: np.ndarray, settings: Settings) -> faiss.Index:
    """Exact inner product for small corpora, HNSW (graph, approximate) above the threshold."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    index: faiss.Index
    if n >= settings.hnsw_threshold:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        # Stored in the file, so a loaded index keeps it.
        index.hnsw.efSearch = HNSW_EF_SEARCH_LARGE if n >= HNSW_LARGE else HNSW_EF_SEARCH
        # Building is batch work: use every core even where the retriever pinned searches to
        # one thread. omp_set_num_threads is per calling thread, so restore it after.
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(previous)
    else:
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
    return index


def _current_build(index_dir: Path) -> Path | None:
    """The live build folder, or None when CURRENT is missing, unreadable or names nothing."""
    try:
        name = (index_dir / CURRENT).read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeError):
        return None
    if not _BUILD_NAME.fullmatch(name) or not (index_dir / name).is_dir():
        return None
    return index_dir / name


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive across processes: one build, switch and prune at a time."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_faiss(index: faiss.Index, path: Path) -> None:
    # faiss.write_index's own file is not fsynced; serialise and write it durably instead.
    _fsync_write(path, faiss.serialize_index(index).tobytes())


def build_index(
    settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> LoadedIndex:
    """Build from the seeds into a new folder, then switch CURRENT to it atomically."""
    with _build_lock(settings.index_dir):
        return _build_locked(settings, embedder, progress)


def _build_locked(settings: Settings, embedder: Embedder, progress: Progress | None) -> LoadedIndex:
    started = time.perf_counter()
    documents = load_corpus(settings.seeds_dir)
    manifest = expected_manifest(settings, embedder, documents)
    sentences, chunks = chunk_corpus(documents, settings.chunk_sentences, settings.chunk_overlap)
    if not chunks:
        raise SeedReadError(
            f"No article text in {settings.seeds_dir}: the files are empty or every line "
            "looks like page junk (banners, headings, bylines)."
        )
    chunk_vectors = _encode(embedder, [c.text for c in chunks], settings, "chunks", progress)
    sentence_vectors = _encode(
        embedder, [s.text for s in sentences], settings, "sentences", progress
    )
    chunk_index = make_faiss_index(chunk_vectors, settings)
    sentence_index = make_faiss_index(sentence_vectors, settings)

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    build = Path(tempfile.mkdtemp(prefix=f"build-{stamp}-", dir=settings.index_dir))
    build.chmod(0o755)  # mkdtemp's 0700 would lock out a server running as another user
    try:
        _write_faiss(chunk_index, build / CHUNK_VECTORS)
        _write_faiss(sentence_index, build / SENTENCE_VECTORS)
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
        _fsync_dir(build)
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
    """Vectors in the order of `texts`, encoded in length-sorted batches: a batch pads to its
    longest text, so mixing lengths wastes most of the work (2.4x, benchmarks/ingest.py)."""
    batch = settings.embed_batch_size
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i in range(0, len(order), batch):
        ids = order[i : i + batch]
        out[ids] = embedder.encode([texts[j] for j in ids], batch_size=batch)
        if progress:
            progress(label, min(i + batch, len(texts)), len(texts))
    return out


def _switch_current(index_dir: Path, build_name: str) -> None:
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    _fsync_write(tmp, build_name.encode("utf-8"))
    os.replace(tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    """Keep the live build and the newest other one; called under the build lock."""

    def age(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    builds = sorted(
        (p for p in index_dir.glob("build-*") if p.is_dir() and p.name != keep), key=age
    )
    for old in builds[: max(len(builds) - (KEEP_BUILDS - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)


def load_index(settings: Settings, embedder: Embedder) -> LoadedIndex:
    """Load the live build; IndexMismatchError if stale, IndexCorruptedError if unreadable."""
    build = _current_build(settings.index_dir)
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
    reasons = _diff(manifest, expected_manifest(settings, embedder, documents))
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
    texts = {d.doc_id: d.text for d in documents}
    records_by_span: list[Sentence | Chunk] = [*sentences, *chunks]
    for record in records_by_span:
        text = texts.get(record.doc_id)
        if text is None or text[record.start : record.end] != record.text:
            raise IndexCorruptedError(
                f"Index in {build} does not match {record.doc_id} at {record.start}-{record.end}. "
                f"{fix}"
            )
    return LoadedIndex(
        manifest=manifest,
        documents={d.doc_id: d for d in documents},
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
    with _build_lock(settings.index_dir):
        try:  # another process may have rebuilt it while this one waited for the lock
            return load_index(settings, embedder)
        except IndexMismatchError:
            return _build_locked(settings, embedder, progress)
