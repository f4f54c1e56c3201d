"""The hybrid retriever as a LangChain `BaseRetriever`, for use inside LangChain chains."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from rag.optional import require
from rag.pipeline import Pipeline

require("langchain_core", "langchain", "The LangChain retriever (rag.integrations.langchain)")

from langchain_core.callbacks import CallbackManagerForRetrieverRun  # noqa: E402
from langchain_core.documents import Document as LCDocument  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402


class RagRetriever(BaseRetriever):
    """Returns LangChain `Document`s whose metadata carries doc id, title and offsets.

    `top_k` (passages returned) is set on the retriever or per call,
    `retriever.invoke(query, top_k=3)`; passes LangChain's standard retriever tests
    (`tests/integrations/test_langchain_retriever.py`).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipeline: Any  # rag.pipeline.Pipeline (Any: pydantic would try to validate the dataclass)
    top_k: int | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        top_k: int | None = None,
    ) -> list[LCDocument]:
        pipeline: Pipeline = self.pipeline
        out = []
        for rank, passage in enumerate(pipeline.search(query, top_k or self.top_k), start=1):
            doc = pipeline.index.documents[passage.doc_id]
            out.append(
                LCDocument(
                    page_content=passage.text,
                    metadata={
                        "doc_id": passage.doc_id,
                        "title": doc.title,
                        "date": doc.date,
                        "start": passage.start,
                        "end": passage.end,
                        "score": passage.score,
                        "rank": rank,
                    },
                )
            )
        return out
