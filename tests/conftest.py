from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from rag.embed import FakeEmbedder
from rag.pipeline import Pipeline
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEV_SET = ROOT / "eval" / "dev.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    """No test, and no server or CLI a test starts, writes the checkout's article library:
    unless a test names its own, RAG_LIBRARY_DIR points at a temporary folder."""
    os.environ.setdefault("RAG_LIBRARY_DIR", tempfile.mkdtemp(prefix="rag-test-library-"))


@pytest.fixture
def seeds_dir(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, seeds_dir: Path) -> Settings:
    return Settings(
        seeds_dir=seeds_dir,
        index_dir=tmp_path / "index",
        library_dir=tmp_path / "library",
        embed_backend="fake",
    )


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """RAG_* variables that point the CLI at this test's seeds copy, index and fake embedder."""
    return {
        "RAG_SEEDS_DIR": str(settings.seeds_dir),
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_LIBRARY_DIR": str(settings.library_dir),
        "RAG_EMBED_BACKEND": "fake",
    }


@pytest.fixture
def pipeline(settings: Settings) -> Pipeline:
    return Pipeline.load(settings, embedder=FakeEmbedder())


@pytest.fixture(scope="session")
def real_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The real model over the real seeds (slow tier)."""
    index_dir = tmp_path_factory.mktemp("real-index")
    # Pinned, so a RAG_EMBED_BACKEND=fake in the environment cannot fake the real tier.
    library_dir = tmp_path_factory.mktemp("real-library")
    return Pipeline.load(
        Settings(
            seeds_dir=SEEDS, index_dir=index_dir, library_dir=library_dir, embed_backend="onnx"
        )
    )
