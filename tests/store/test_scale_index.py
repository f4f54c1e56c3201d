"""make_faiss_index: exact below settings.hnsw_threshold, HNSW above it; both load back."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.settings import Settings
from rag.store import hnsw_bytes_per_vector, make_faiss_index
from rag.store.faiss_index import stored_vectors


def _unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def tiny_threshold(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", embed_backend="fake", hnsw_threshold=100)


def test_below_threshold_is_exact(tiny_threshold: Settings) -> None:
    index = make_faiss_index(_unit_vectors(99), tiny_threshold)
    assert isinstance(index, faiss.IndexFlatIP)
    assert index.ntotal == 99


def test_at_threshold_is_hnsw_with_stored_search_depth(tiny_threshold: Settings) -> None:
    index = make_faiss_index(_unit_vectors(100), tiny_threshold)
    assert isinstance(index, faiss.IndexHNSWFlat)
    assert index.metric_type == faiss.METRIC_INNER_PRODUCT
    loaded = faiss.deserialize_index(faiss.serialize_index(index))
    assert loaded.hnsw.efSearch == index.hnsw.efSearch >= 40  # retriever asks for up to 40


def test_hnsw_finds_what_exact_search_finds(tiny_threshold: Settings) -> None:
    vectors = _unit_vectors(2000)
    hnsw = make_faiss_index(vectors, tiny_threshold)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    queries = _unit_vectors(50, seed=1)
    _, want = exact.search(queries, 10)
    scores, got = hnsw.search(queries, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want, strict=True)])
    assert recall >= 0.95
    # Each vector is its own best match, scored by inner product (cosine for unit vectors).
    self_scores, self_ids = hnsw.search(vectors[:20], 1)
    assert list(self_ids[:, 0]) == list(range(20))
    np.testing.assert_allclose(self_scores[:, 0], 1.0, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


@pytest.mark.parametrize("n", [50, 300])
def test_vectors_reconstruct_after_a_round_trip(tiny_threshold: Settings, n: int) -> None:
    vectors = _unit_vectors(n)
    index = faiss.deserialize_index(
        faiss.serialize_index(make_faiss_index(vectors, tiny_threshold))
    )
    np.testing.assert_array_equal(stored_vectors(index, n), vectors)


def test_hnsw_memory_is_close_to_the_formula(tiny_threshold: Settings) -> None:
    n, dim = 3000, 32
    index = make_faiss_index(_unit_vectors(n, dim), tiny_threshold)
    per_vector = len(faiss.serialize_index(index)) / n
    theory = hnsw_bytes_per_vector(dim)
    assert theory <= per_vector * 1.05 and per_vector <= theory * 1.05


def test_real_pipeline_index_type_follows_the_threshold(tmp_path: Path) -> None:
    """Through build_index and load_index: a tiny threshold gives HNSW files that load."""
    from rag.embed import FakeEmbedder
    from rag.pipeline import Pipeline
    from tests.conftest import SEEDS

    settings = Settings(
        seeds_dir=SEEDS, index_dir=tmp_path / "index", embed_backend="fake", hnsw_threshold=10
    )
    built = Pipeline.load(settings, embedder=FakeEmbedder())
    assert built.index.manifest["index"]["type"] == "IndexHNSWFlat"
    loaded = Pipeline.load(settings, embedder=FakeEmbedder())
    assert isinstance(loaded.index.chunk_index, faiss.IndexHNSWFlat)
    np.testing.assert_array_equal(loaded.index.sentence_vectors, built.index.sentence_vectors)
    answer = loaded.ask("Where will NATO's new command be based?")
    assert answer.passages
