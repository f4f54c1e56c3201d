"""Vectors of the articles' words, embedded once at index build.

The answer stage asks whether a question's word is one the articles nearly use ("yearly"
beside "annual", "Finnish" beside "Finland"): a paraphrase is no sign that the articles do
not say, a word nothing comes near is. The same model embeds the words as the sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class WordVectors:
    """One unit vector per word, rows in the order of `words`."""

    words: tuple[str, ...]
    vectors: np.ndarray  # (len(words), dim) float32

    def __post_init__(self) -> None:
        if self.vectors.shape[0] != len(self.words):
            raise ValueError(f"{self.vectors.shape[0]} vectors for {len(self.words)} words")

    @classmethod
    def empty(cls, dim: int) -> WordVectors:
        return cls((), np.zeros((0, dim), dtype=np.float32))

    def rows(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def best_similarity(self, queries: np.ndarray) -> np.ndarray:
        """For each row of `queries` (unit vectors), its highest cosine with any word; 0
        when there are no words."""
        if not len(self.words) or not len(queries):
            return np.zeros(len(queries), dtype=np.float32)
        return np.asarray((queries @ self.vectors.T).max(axis=1), dtype=np.float32)
