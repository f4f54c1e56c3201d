"""The roles a store plays, so the retriever, the answer stage and the server do not care
whether the index lives in files (FAISS) or in a database (PostgreSQL + pgvector)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from rag.analyze import Annotator
    from rag.embed import Embedder
    from rag.ingest.sources import Source
    from rag.progress import Reporter
    from rag.store.index import LoadedIndex
    from rag.types import Document


@runtime_checkable
class VectorSearch(Protocol):
    """Nearest rows by inner product, FAISS-style: `search` takes an (n, d) float32 array and
    returns (scores, ids), each (n, k), ids being row positions and -1 where none is left."""

    @property
    def ntotal(self) -> int: ...

    @property
    def d(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class LexicalSearch(Protocol):
    """Chunk positions with a positive lexical (BM25) score for the query, best first."""

    def ranking(self, query: str, depth: int) -> list[int]: ...


class Store(Protocol):
    """Where the index lives. One per process: it may hold a connection pool."""

    name: str
    # True when several processes read and write one copy (a database): a server then checks
    # for a newer version on every request, so a write through one worker is seen by all.
    shared: bool

    def ensure(
        self,
        embedder: Embedder,
        reporter: Reporter | None = None,
        annotator: Annotator | None = None,
    ) -> LoadedIndex:
        """The live index, built or brought up to date with the articles first if needed
        (or IndexMismatchError when RAG_AUTO_INDEX is off)."""
        ...

    def build(
        self,
        embedder: Embedder,
        reporter: Reporter | None = None,
        annotator: Annotator | None = None,
        reuse: bool = True,
    ) -> LoadedIndex:
        """Index the articles now; `reuse=False` recomputes every article."""
        ...

    def load(self, embedder: Embedder, annotator: Annotator | None = None) -> LoadedIndex:
        """The live index as stored: IndexMismatchError if stale, IndexCorruptedError if
        unreadable."""
        ...

    def sync_locked(
        self, embedder: Embedder, reporter: Reporter | None, annotator: Annotator | None
    ) -> LoadedIndex:
        """`build` for a caller that already holds the index's build lock (library writes)."""
        ...

    def live_version(self) -> str | None:
        """The version a load would return now (cheap), or None when there is none."""
        ...

    def stored_documents(self, sources: list[Source]) -> dict[str, Document]:
        """Analysed documents for the sources the live index has unchanged (by key)."""
        ...

    def close(self) -> None: ...
