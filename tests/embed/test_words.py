"""Word vectors: the articles' vocabulary embedded, and how near a question's word comes."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed import WordVectors


def _unit(*rows: list[float]) -> np.ndarray:
    m = np.array(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_best_similarity_is_the_nearest_words_cosine() -> None:
    words = WordVectors(("annual", "pledge"), _unit([1, 0, 0], [0, 1, 0]))
    queries = _unit([1, 1, 0], [0, 0, 1])
    assert np.allclose(words.best_similarity(queries), [np.sqrt(0.5), 0.0], atol=1e-6)


def test_no_words_come_near_nothing() -> None:
    assert WordVectors.empty(3).best_similarity(_unit([1, 0, 0])).tolist() == [0.0]
    assert WordVectors(("a",), _unit([1, 0, 0])).best_similarity(np.zeros((0, 3))).size == 0


def test_vectors_must_match_the_words() -> None:
    with pytest.raises(ValueError, match="2 vectors for 1 words"):
        WordVectors(("annual",), _unit([1, 0], [0, 1]))
