"""`RagRetriever` against LangChain's own standard test suite for retrievers
(`langchain_tests.integration_tests.RetrieversIntegrationTests`): the fake embedder in the
fast tier, the real model in the slow tier."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.embed import FakeEmbedder
from rag.integrations.langchain import RagRetriever
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import SEEDS


class _Suite(RetrieversIntegrationTests):
    pipeline: Pipeline

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return RagRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline}

    @property
    def retriever_query_example(self) -> str:
        return "Where will NATO's new command for Ukraine be based?"

    @property
    def num_results_arg_name(self) -> str:
        return "top_k"


class TestRagRetrieverStandard(_Suite):
    @pytest.fixture(scope="class", autouse=True)
    def _load(
        self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        settings = Settings(
            seeds_dir=SEEDS, index_dir=tmp_path_factory.mktemp("index"), embed_backend="fake"
        )
        request.cls.pipeline = Pipeline.load(settings, embedder=FakeEmbedder())


@pytest.mark.slow
class TestRagRetrieverStandardRealModel(_Suite):
    @pytest.fixture(scope="class", autouse=True)
    def _load(self, request: pytest.FixtureRequest, real_pipeline: Pipeline) -> None:
        request.cls.pipeline = real_pipeline


def test_documents_carry_the_passage_offsets(tmp_path: Any) -> None:
    settings = Settings(seeds_dir=SEEDS, index_dir=tmp_path / "index", embed_backend="fake")
    retriever = RagRetriever(pipeline=Pipeline.load(settings, embedder=FakeEmbedder()))
    docs = retriever.invoke("Ramstein Group", top_k=2)
    assert [d.metadata["rank"] for d in docs] == [1, 2]
    for doc in docs:
        text = (SEEDS / doc.metadata["doc_id"]).read_bytes().decode("utf-8")
        assert text[doc.metadata["start"] : doc.metadata["end"]] == doc.page_content
