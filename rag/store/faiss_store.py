"""The file store: FAISS indexes and JSON records in build folders (rag/store/index.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.settings import Settings
from rag.store import index as files
from rag.store.layout import current_build

if TYPE_CHECKING:
    from rag.analyze import Annotator
    from rag.embed import Embedder
    from rag.ingest.sources import Source
    from rag.progress import Reporter
    from rag.store.index import LoadedIndex
    from rag.types import Document


class FaissStore:
    """Each process loads the whole index into memory; other processes' builds are picked up
    by polling CURRENT (the server's watcher)."""

    name = "faiss"
    shared = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def ensure(
        self,
        embedder: Embedder,
        reporter: Reporter | None = None,
        annotator: Annotator | None = None,
    ) -> LoadedIndex:
        return files.ensure_index(self.settings, embedder, reporter, annotator)

    def build(
        self,
        embedder: Embedder,
        reporter: Reporter | None = None,
        annotator: Annotator | None = None,
        reuse: bool = True,
    ) -> LoadedIndex:
        return files.build_index(self.settings, embedder, reporter, annotator, reuse=reuse)

    def load(self, embedder: Embedder, annotator: Annotator | None = None) -> LoadedIndex:
        return files.load_index(self.settings, embedder, annotator)

    def sync_locked(
        self, embedder: Embedder, reporter: Reporter | None, annotator: Annotator | None
    ) -> LoadedIndex:
        return files.build_locked(self.settings, embedder, reporter, annotator)

    def live_version(self) -> str | None:
        build = current_build(self.settings.index_dir)
        return build.name if build else None

    def stored_documents(self, sources: list[Source]) -> dict[str, Document]:
        return files.stored_documents(self.settings, sources)

    def close(self) -> None:
        pass
