"""Baseline systems for `rag eval --compare`, scored the same way as the full system.

Every baseline answers with the text of its top passage and cites that passage's span; none
abstains (unless it retrieved nothing at all). They share the full system's loaded model.
Needs the `eval` extra (LangChain): `rag eval --compare` checks for it before importing this.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings

from rag.embed import Embedder
from rag.errors import RagError
from rag.eval.dataset import EvalItem
from rag.eval.metrics import RETRIEVAL_DEPTH, SpanRef, SystemOutput
from rag.pipeline import Pipeline, validate_question
from rag.retrieve import RetrievalMode
from rag.types import Document

LANGCHAIN_K = 4  # VectorStore.similarity_search's default k


def _top_passage_output(ranking: list[SpanRef], latency_ms: float) -> SystemOutput:
    if not ranking:  # nothing retrieved: there is no passage to return
        return SystemOutput(answer="", abstained=True, ranking=[], latency_ms=latency_ms)
    top = ranking[0]
    return SystemOutput(
        answer=top.text, citations=[top], ranking=ranking, latency_ms=latency_ms, abstained=False
    )


class TopPassageSystem:
    """One retrieval mode of our retriever, the top passage as the answer (no answer stage)."""

    def __init__(
        self,
        pipeline: Pipeline,
        mode: RetrievalMode,
        name: str,
        description: str,
        top_k: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.mode = mode
        self.name = name
        self.description = description
        self.depth = max(RETRIEVAL_DEPTH, top_k or 0)

    def run(self, item: EvalItem) -> SystemOutput:
        try:
            question = validate_question(item.question, self.pipeline.settings)
        except RagError as exc:
            return SystemOutput(error=f"{type(exc).__name__}: {exc}")
        t0 = time.perf_counter()
        # The top passage does not depend on depth (the ranking is cut, not recomputed).
        retrieval = self.pipeline.retriever.retrieve(question, self.depth, mode=self.mode)
        latency = (time.perf_counter() - t0) * 1000
        ranking = [
            SpanRef(doc_id=p.doc_id, start=p.start, end=p.end, text=p.text)
            for p in retrieval.passages
        ]
        return _top_passage_output(ranking, latency)


class EmbedderEmbeddings(Embeddings):
    """Our `Embedder` as LangChain `Embeddings`: the same loaded model (or the fake one in
    tests), offline, with no second copy of the weights."""

    def __init__(self, embedder: Embedder, batch_size: int = 32) -> None:
        self.embedder = embedder
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.embedder.encode(texts, batch_size=self.batch_size)
        return [[float(x) for x in row] for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.encode([text])[0]]


class SpanMismatchError(RuntimeError):
    pass


def split_documents(documents: Sequence[Document]) -> list[Any]:
    """The stock splitter over each article's full text; every chunk's start_index is checked
    against the text, since citations are scored by offsets."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=1000, chunk_overlap=200, add_start_index=True
    )
    chunks = splitter.create_documents(
        [d.text for d in documents], metadatas=[{"doc_id": d.doc_id} for d in documents]
    )
    texts = {d.doc_id: d.text for d in documents}
    for chunk in chunks:
        text, start = texts[chunk.metadata["doc_id"]], chunk.metadata["start_index"]
        end = start + len(chunk.page_content)
        if start < 0 or text[start:end] != chunk.page_content:
            raise SpanMismatchError(
                f"splitter start_index {start} does not locate its chunk in "
                f"{chunk.metadata['doc_id']}"
            )
        chunk.metadata["end_index"] = end
    return chunks


class LangChainSystem:
    """The stock LangChain pipeline: RecursiveCharacterTextSplitter(1000, 200) chunks in a
    FAISS vector store over the same embedding model; the top chunk is the answer."""

    name = "langchain"
    description = (
        "stock LangChain: RecursiveCharacterTextSplitter(1000/200) + FAISS, top chunk "
        f"as the answer (k={LANGCHAIN_K}; ranking metrics from k={RETRIEVAL_DEPTH})"
    )

    def __init__(
        self, documents: Sequence[Document], embedder: Embedder, top_k: int | None = None
    ) -> None:
        with warnings.catch_warnings():
            # langchain-community announces its own sunset on import: not our users' concern.
            warnings.simplefilter("ignore", DeprecationWarning)
            from langchain_community.vectorstores import FAISS

        self.chunks = split_documents(documents)
        self.store = FAISS.from_documents(self.chunks, EmbedderEmbeddings(embedder))
        self.depth = max(RETRIEVAL_DEPTH, top_k or 0)

    def run(self, item: EvalItem) -> SystemOutput:
        t0 = time.perf_counter()
        # Exact search: the first LANGCHAIN_K of a deeper search are the k=4 results.
        found = self.store.similarity_search(item.question, k=self.depth)
        latency = (time.perf_counter() - t0) * 1000
        ranking = [
            SpanRef(
                doc_id=d.metadata["doc_id"],
                start=d.metadata["start_index"],
                end=d.metadata["end_index"],
                text=d.page_content,
            )
            for d in found
        ]
        return _top_passage_output(ranking, latency)


def baseline_systems(pipeline: Pipeline, top_k: int | None = None) -> dict[str, Any]:
    """The baselines by name, all over the pipeline's already-loaded model."""
    documents = list(pipeline.index.documents.values())
    return {
        "bm25": TopPassageSystem(
            pipeline, RetrievalMode.BM25, "bm25", "BM25 only, top passage as the answer", top_k
        ),
        "dense": TopPassageSystem(
            pipeline,
            RetrievalMode.DENSE,
            "dense",
            "dense only (chunks + sentences), top passage",
            top_k,
        ),
        "hybrid-top": TopPassageSystem(
            pipeline,
            RetrievalMode.HYBRID,
            "hybrid-top",
            "hybrid retrieval, top passage, no answer-stage rescoring or abstention",
            top_k,
        ),
        "langchain": LangChainSystem(documents, pipeline.embedder, top_k),
    }
