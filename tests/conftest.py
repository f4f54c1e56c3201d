from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from pydantic import SecretStr

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


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL 16 with pgvector: RAG_TEST_DATABASE_URL when set (.ci/run starts
    one), else a server from the `pgserver` package in a temporary folder, stopped after the
    session."""
    given = os.environ.get("RAG_TEST_DATABASE_URL")
    if given:
        yield given
        return
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture
def pg_settings(
    settings: Settings, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """`settings` on the pgvector store, in a schema of this test's own (dropped after).
    Every store the test opens is closed afterwards, so connections never pile up."""
    from rag.store.pgvector import PgVectorStore

    opened: list[PgVectorStore] = []
    real_init = PgVectorStore.__init__

    def tracked_init(self: PgVectorStore, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        opened.append(self)

    monkeypatch.setattr(PgVectorStore, "__init__", tracked_init)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield settings.model_copy(
        update={
            "store": "pgvector",
            "database_url": SecretStr(postgres_url),
            "database_schema": schema,
        }
    )
    for store in opened:
        store.close()
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["faiss", "pgvector"])
def any_store_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The same test on both stores (the store contract)."""
    if request.param == "faiss":
        return settings
    return cast(Settings, request.getfixturevalue("pg_settings"))
