"""The embedding model loads once per process: in the library and in the HTTP service.

Constructions are counted by wrapping the model classes with monkeypatch, then a pipeline (or
the API app) is loaded and asked several questions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import rag.embed.loader
from rag.embed import FakeEmbedder, packaged_model_path
from rag.embed.base import quiet_hf_environment
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import ROOT, SEEDS

QUESTIONS = (
    "Where will NATO's new command for coordinating military aid to Ukraine be based?",
    "How many personnel will staff the operation?",
    "What is the Ukraine Defense Contact Group also known as?",
    "How many rounds of ammunition does Russia produce a year?",
)


class Counter:
    def __init__(self) -> None:
        self.n = 0


def _count_constructions(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> Counter:
    """Replace owner.name (a class) by a subclass that counts its instances."""
    counter = Counter()
    original = getattr(owner, name)

    class Counted(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            counter.n += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(owner, name, Counted)
    return counter


def _live_build(settings: Settings) -> str:
    return (settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def _serve(settings: Settings, questions: tuple[str, ...] = QUESTIONS) -> None:
    """Answer through the API app; it must reuse the index the library built, not re-embed."""
    from api.app import create_app

    built = _live_build(settings)

    app = create_app(settings=settings)
    with TestClient(app) as client:  # the lifespan loads the pipeline
        for question in questions:
            response = client.post("/ask", json={"question": question})
            assert response.status_code == 200, response.text
        assert client.post("/search", json={"query": questions[0]}).status_code == 200
    assert _live_build(settings) == built, "the service rebuilt an index that was up to date"


def test_importing_the_library_leaves_the_environment_alone() -> None:
    code = (
        "import os; before = dict(os.environ); import rag.pipeline, rag.embed, api.app; "
        "assert dict(os.environ) == before, set(os.environ) ^ set(before)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENIZERS_", "HF_"))}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


def test_loading_a_real_model_turns_tokenizer_threads_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tokenizer pool would fight the model for two cores.
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    quiet_hf_environment()
    assert os.environ.get("TOKENIZERS_PARALLELISM") == "false"


def test_library_loads_the_embedder_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes = _count_constructions(monkeypatch, rag.embed.loader, "FakeEmbedder")
    pipeline = Pipeline.load(settings)
    for question in QUESTIONS:
        pipeline.ask(question)
        pipeline.search(question)
    assert fakes.n == 1


def test_service_loads_the_embedder_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    Pipeline.load(settings)  # the index, built before the service starts
    fakes = _count_constructions(monkeypatch, rag.embed.loader, "FakeEmbedder")
    _serve(settings)
    assert fakes.n == 1


@pytest.fixture
def real_settings(tmp_path: Path) -> Iterator[Settings]:
    yield Settings(seeds_dir=SEEDS, index_dir=tmp_path / "index", embed_backend="torch")


@pytest.mark.slow
def test_torch_model_loads_once_in_library_and_service(
    real_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sentence_transformers

    models = _count_constructions(monkeypatch, sentence_transformers, "SentenceTransformer")
    pipeline = Pipeline.load(real_settings)  # builds the index with the same model
    for question in QUESTIONS:
        pipeline.ask(question)
    assert models.n == 1
    _serve(real_settings)
    assert models.n == 2  # the service process would have loaded it once, too


@pytest.mark.slow
def test_onnx_session_is_created_once_when_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    settings = Settings(seeds_dir=SEEDS, index_dir=tmp_path / "index", embed_backend="onnx")
    Pipeline.load(settings)  # export (if not cached) and index build, before counting
    sessions = _count_constructions(monkeypatch, onnxruntime, "InferenceSession")
    pipeline = Pipeline.load(settings)
    for question in QUESTIONS:
        pipeline.ask(question)
    # One query session; the batch session is created only when indexing needs it.
    assert sessions.n == 1
    _serve(settings)
    assert sessions.n == 2


@pytest.mark.slow
def test_building_with_onnx_adds_at_most_a_batch_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    from rag.embed.onnx_export import ensure_exported

    ensure_exported(packaged_model_path())  # a first-ever export runs sessions of its own
    sessions = _count_constructions(monkeypatch, onnxruntime, "InferenceSession")
    settings = Settings(seeds_dir=SEEDS, index_dir=tmp_path / "index", embed_backend="onnx")
    pipeline = Pipeline.load(settings)
    for question in QUESTIONS:
        pipeline.ask(question)
    assert sessions.n <= 2


def test_an_injected_embedder_is_used_as_is(settings: Settings) -> None:
    embedder = FakeEmbedder()
    pipeline = Pipeline.load(settings, embedder=embedder)
    pipeline.ask(QUESTIONS[0])
    assert pipeline.embedder is embedder
