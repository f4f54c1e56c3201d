"""The ONNX Runtime embedder: parity with sentence-transformers, a torch-free query path, and
an export cache that is keyed by the weights and never left half-written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embed import Embedder, onnx_export, packaged_model_path
from rag.embed.onnx_export import EXPORT_META, ensure_exported, export_folder
from rag.embed.onnx_runtime import (
    FP32_FILE,
    INT8_FILE,
    OnnxEmbedder,
    _pool,
    read_pipeline_config,
)
from rag.errors import ModelLoadError
from rag.settings import Settings
from tests.conftest import SEEDS

ROOT = Path(__file__).resolve().parents[2]

LONG = " ".join(
    (SEEDS / name).read_text(encoding="utf-8") for name in sorted(os.listdir(SEEDS))[:2]
)  # thousands of tokens: exercises truncation at max_seq_length
TEXTS = [
    "Where will NATO's new command for coordinating military aid to Ukraine be based?",
    "Ramstein",
    "The headquarters for this is to be built in Wiesbaden, Germany.",
    "Russia produces about 3 million rounds of ammunition a year, NATO collectively less "
    "than 2 million.",
    LONG,
    "  leading and trailing   spaces, Ünïcödé and digits 1,000,000  ",
]


def _fake_model_dir(tmp_path: Path, pooling: str = "pooling_mode_mean_tokens") -> Path:
    """A model folder with the real small files and a stand-in weights file (no export)."""
    real = packaged_model_path()
    target = tmp_path / "model"
    (target / "1_Pooling").mkdir(parents=True)
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json"):
        shutil.copy(real / name, target / name)
    pool = json.loads((real / "1_Pooling" / "config.json").read_text())
    pool = {k: (k == pooling) if k.startswith("pooling_mode") else v for k, v in pool.items()}
    (target / "1_Pooling" / "config.json").write_text(json.dumps(pool))
    (target / "model.safetensors").write_bytes(b"not really weights")
    return target


# --- fast: configuration, pooling, cache keys, crash safety (no model export)


def test_pipeline_config_follows_the_model_folder() -> None:
    cfg = read_pipeline_config(packaged_model_path())
    assert (cfg.dim, cfg.max_seq_length, cfg.num_heads, cfg.normalize) == (384, 256, 12, True)


def test_other_pooling_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="mean pooling"):
        read_pipeline_config(_fake_model_dir(tmp_path, pooling="pooling_mode_cls_token"))


def test_missing_model_folder_is_a_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        OnnxEmbedder.from_model_dir(tmp_path / "nope", "x", cache_dir=tmp_path / "cache")


def test_mean_pooling_ignores_padding_and_normalises() -> None:
    tokens = np.zeros((2, 3, 2), dtype=np.float32)
    tokens[0] = [[1, 0], [3, 0], [100, 100]]  # third position is padding
    tokens[1] = [[0, 2], [0, 2], [0, 2]]
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    np.testing.assert_allclose(_pool(tokens, mask, normalize=False), [[2, 0], [0, 2]])
    np.testing.assert_allclose(_pool(tokens, mask, normalize=True), [[1, 0], [0, 1]])


def test_cache_key_changes_with_the_weights(tmp_path: Path) -> None:
    model = _fake_model_dir(tmp_path)
    cache = tmp_path / "cache"
    first = export_folder(model, cache)
    assert export_folder(model, cache) == first  # stable (and memoised)
    (model / "model.safetensors").write_bytes(b"other weights")
    assert export_folder(model, cache) != first


def test_a_failed_export_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _fake_model_dir(tmp_path)
    cache = tmp_path / "cache"

    def crash(model_dir: Path, cfg: object, out: Path) -> None:
        out.write_bytes(b"half a graph")
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(onnx_export, "_torch_export", crash)
    with pytest.raises(ModelLoadError, match="mid-export"):
        ensure_exported(model, cache)
    folder = export_folder(model, cache)
    assert not any(folder.iterdir())  # no model files, no temp folder


def test_an_incomplete_cache_folder_is_exported_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _fake_model_dir(tmp_path)
    cache = tmp_path / "cache"
    folder = export_folder(model, cache)
    folder.mkdir(parents=True)
    (folder / FP32_FILE).write_bytes(b"from an old crash")  # but no export.json
    calls: list[Path] = []
    monkeypatch.setattr(onnx_export, "export_onnx", lambda m, f: calls.append(f))
    ensure_exported(model, cache)
    assert calls == [folder]


# --- slow: the real weights


@pytest.fixture(scope="module")
def onnx_cache() -> Path:
    """The real export, in the cache the application uses (models/onnx, or $RAG_ONNX_DIR):
    exported once per machine, which the tests of a fresh clone check too."""
    cache = Settings().onnx_dir
    ensure_exported(packaged_model_path(), cache)
    return cache


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(packaged_model_path()), device="cpu")
    return np.asarray(model.encode(TEXTS, normalize_embeddings=True, batch_size=4))


@pytest.mark.slow
def test_export_is_complete_and_recorded(onnx_cache: Path) -> None:
    folder = export_folder(packaged_model_path(), onnx_cache)
    assert {p.name for p in folder.iterdir()} == {FP32_FILE, INT8_FILE, EXPORT_META}
    meta = json.loads((folder / EXPORT_META).read_text())
    assert meta["recipe"] == onnx_export.EXPORT_RECIPE
    assert meta["source_hash"].startswith(folder.name.rsplit("-", 1)[1])
    assert meta["fp32_min_cosine"] >= 0.999


@pytest.mark.slow
def test_a_cached_export_is_reused(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_export(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "export_onnx", no_export)
    embedder = OnnxEmbedder.from_model_dir(packaged_model_path(), "m", cache_dir=onnx_cache)
    assert embedder.graph.parent.parent == onnx_cache


@pytest.mark.slow
@pytest.mark.parametrize(("quantized", "min_cosine"), [(False, 0.999), (True, 0.98)])
def test_embeddings_match_sentence_transformers(
    onnx_cache: Path, reference: np.ndarray, quantized: bool, min_cosine: float
) -> None:
    embedder = OnnxEmbedder.from_model_dir(
        packaged_model_path(), "minilm", quantized=quantized, cache_dir=onnx_cache
    )
    assert isinstance(embedder, Embedder)
    assert embedder.dim == 384 and embedder.model_id == "minilm"
    assert embedder.fingerprint.endswith(INT8_FILE if quantized else FP32_FILE)
    batch = embedder.encode(TEXTS, batch_size=4)  # padded batches, input order kept
    assert batch.shape == (len(TEXTS), 384) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    cosines = (batch * reference).sum(axis=1)
    assert cosines.min() >= min_cosine, cosines
    # Batching must not change a text's embedding beyond noise. int8 gets more slack: dynamic
    # quantisation takes one activation scale per batch, so neighbours in a batch matter.
    one_by_one = np.vstack([embedder.encode([t]) for t in TEXTS])
    agreement = (one_by_one * batch).sum(axis=1)
    assert agreement.min() >= (0.98 if quantized else 0.99999), agreement
    assert embedder.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_query_path_does_not_import_torch(onnx_cache: Path, tmp_path: Path) -> None:
    """A fresh process that answers with the ONNX backend never imports torch, both when it
    builds the index and when it loads it."""
    script = (
        "import sys\n"
        "from rag.settings import Settings\n"
        "from rag.pipeline import Pipeline\n"
        f"s = Settings(embed_backend='onnx', seeds_dir={str(SEEDS)!r},"
        f" index_dir={str(tmp_path / 'index')!r})\n"
        'a = Pipeline.load(s).ask("Where will NATO\'s new command be based?")\n'
        "assert 'Wiesbaden' in a.answer, a.answer\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules))\n"
    )
    env = os.environ | {"RAG_ONNX_DIR": str(onnx_cache)}
    for _ in ("builds the index", "loads it"):
        proc = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
