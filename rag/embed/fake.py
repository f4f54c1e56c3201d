"""A deterministic stand-in for the model, for tests: no weights, no threads, no network."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from rag.text import content_terms


class FakeEmbedder:
    """Deterministic bag-of-stems embedding from sha256-seeded term vectors.

    Texts sharing terms land near each other, so retrieval tests stay meaningful without a model.
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.model_id = f"fake-sha256-{dim}"
        self.fingerprint = self.model_id
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
