"""sentence-transformers itself (torch) on the CPU, loaded from a local folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.base import model_fingerprint, quiet_hf_environment
from rag.errors import ModelLoadError


class SentenceTransformerEmbedder:
    """Not thread-safe (its fast tokenizer): share it through `SerializedEmbedder`."""

    def __init__(
        self, model: Any, torch: Any, model_id: str, fingerprint: str, threads: int | None = None
    ) -> None:
        self._model = model
        self._torch = torch
        self.model_id = model_id
        self.fingerprint = fingerprint
        dim = (
            model.get_embedding_dimension()
            if hasattr(model, "get_embedding_dimension")
            else model.get_sentence_embedding_dimension()
        )
        self.dim = int(dim or 0)
        self._query_threads = threads or 1

    @classmethod
    def load(
        cls, path: Path, model_id: str, threads: int | None = None
    ) -> SentenceTransformerEmbedder:
        quiet_hf_environment()
        if not path.is_dir():
            raise ModelLoadError(f"Embedding model folder not found: {path}. Set RAG_MODEL_PATH.")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            if threads:
                torch.set_num_threads(threads)
            model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # a broken model folder surfaces as many exception types
            raise ModelLoadError(f"Cannot load the embedding model from {path}: {exc}") from exc
        return cls(model, torch, model_id, model_fingerprint(path), threads)

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
