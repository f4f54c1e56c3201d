"""Adding, updating and deleting articles: the library (rag/ingest/sources.py) and the index
change together, under the index's build lock.

Every write checks its input before anything is stored, writes the blobs (content-addressed,
so an existing file is never overwritten with other bytes), replaces catalog.json atomically
(the commit point), then builds the index incrementally and switches CURRENT. A crash before
the catalog is replaced leaves the old corpus; after it, the new corpus, whose index the next
load (or write) catches up. If the build fails, the old catalog is put back.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from rag.analyze import Annotator
from rag.embed import Embedder
from rag.errors import (
    ArticleTooLargeError,
    DocumentExistsError,
    InvalidArticleError,
    LastDocumentError,
    UnknownDocumentError,
)
from rag.files import atomic_write, fsync_dir
from rag.ingest.corpus import (
    SidecarEntry,
    indexed_roles,
    load_document,
    seed_files,
    sha256_bytes,
)
from rag.ingest.html import extract_html
from rag.ingest.sentences import sentences_of
from rag.ingest.sources import (
    CATALOG,
    ORIGINALS,
    TEXTS,
    Catalog,
    CatalogEntry,
    Hints,
    Source,
    load_sources,
    read_catalog,
)
from rag.progress import LogReporter, Reporter
from rag.settings import Settings
from rag.store.base import Store
from rag.store.index import LoadedIndex
from rag.store.layout import build_lock
from rag.store.open import open_store
from rag.types import Document

Format = Literal["text", "html"]
# Ids appear in URLs (/documents/{doc_id}) and file listings: one path segment, no dot first.
DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
HTML_SUFFIXES = (".html", ".htm")
ACCEPTED_SUFFIXES = (".txt", ".md", ".text", *HTML_SUFFIXES)
# Control characters other than tab, line breaks and form feed: a text file has none; a
# binary file decoded by chance has many. One in a thousand is already not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.001


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article to store, as it arrived."""

    data: bytes
    format: Format | None = None  # None: from the file name (.html/.htm), else text
    doc_id: str | None = None  # None: the file name, else derived from the content
    filename: str | None = None
    title: str | None = None
    date: str | None = None  # ISO date
    outlet: str | None = None


@dataclass
class WriteResult:
    doc_ids: list[str]
    index: LoadedIndex
    documents: list[Document] = field(default_factory=list)  # the written ones, analysed


@dataclass(frozen=True, slots=True)
class _Prepared:
    doc_id: str
    original: bytes
    original_suffix: str
    text: str
    format: Format
    meta: SidecarEntry
    hints: Hints


def check_doc_id(doc_id: str) -> str:
    if not DOC_ID.fullmatch(doc_id):
        raise InvalidArticleError(
            f"Invalid document id {doc_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return doc_id


def prepare(article: NewArticle, settings: Settings) -> _Prepared:
    """Validate and decode an article (text, or the main text of an HTML page); raises
    InvalidArticleError / ArticleTooLargeError before anything is written."""
    what = f"{article.filename}: " if article.filename else ""
    if len(article.data) > settings.max_article_bytes:
        raise ArticleTooLargeError(
            f"{what}the article is {len(article.data)} bytes; the limit is "
            f"{settings.max_article_bytes} (RAG_MAX_ARTICLE_BYTES)."
        )
    try:
        raw = article.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArticleError(
            f"{what}not valid UTF-8 text ({exc.reason} at byte {exc.start}). Save it as UTF-8."
        ) from exc
    if raw.startswith("\ufeff"):
        raise InvalidArticleError(f"{what}starts with a byte-order mark; save it without one.")
    if len(_CONTROL.findall(raw)) > MAX_CONTROL_SHARE * max(len(raw), 1) or "\x00" in raw:
        raise InvalidArticleError(f"{what}looks like a binary file, not an article.")
    suffix = Path(article.filename or "").suffix.lower()
    fmt: Format = article.format or ("html" if suffix in HTML_SUFFIXES else "text")
    hints = Hints()
    text = raw
    if fmt == "html":
        page = extract_html(raw)
        text = page.text
        hints = Hints(
            title=page.title, date=page.date, authors=list(page.authors), site_name=page.site_name
        )
    if not text.strip():
        raise InvalidArticleError(f"{what}the article is empty.")
    try:
        meta = SidecarEntry(title=article.title, date=article.date, outlet=article.outlet)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field_name = ".".join(str(p) for p in problem["loc"])
        raise InvalidArticleError(f"{what}{field_name}: {problem['msg']}.") from exc
    digest = sha256_bytes(text.encode("utf-8"))
    doc_id = article.doc_id or _id_from_name(article.filename) or f"art_{digest[:16]}"
    prepared = _Prepared(
        check_doc_id(doc_id),
        article.data,
        suffix or (".html" if fmt == "html" else ".txt"),
        text,
        fmt,
        meta,
        hints,
    )
    source = Source(doc_id, text, digest, meta, hints, "library")
    if not sentences_of(load_document(source)):  # body prose, whatever else is indexed
        raise InvalidArticleError(
            f"{what}no article prose: every line looks like page furniture (navigation, "
            "banners, headings)."
        )
    return prepared


def _id_from_name(filename: str | None) -> str | None:
    if not filename:
        return None
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(filename).name).strip(".-_")
    return name[:128] or None


class Library:
    """Writes to the corpus. `embedder` and `annotator` are the loaded ones (a server's own),
    so a write only pays for the new article."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        annotator: Annotator,
        reporter: Reporter | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.annotator = annotator
        self.reporter = reporter or LogReporter()
        # The server passes its own (a database store holds a connection pool).
        self.store = store or open_store(settings)

    def add(self, articles: Sequence[NewArticle], replace: bool = False) -> WriteResult:
        """Store new articles (DocumentExistsError if an id is taken, unless `replace`)."""
        return self._write([prepare(a, self.settings) for a in articles], "add", replace)

    def update(self, doc_id: str, article: NewArticle) -> WriteResult:
        """Replace an article's text (UnknownDocumentError if there is none)."""
        prepared = prepare(dataclasses.replace(article, doc_id=doc_id), self.settings)
        return self._write([prepared], "update", True)

    def remove(self, doc_ids: Sequence[str]) -> WriteResult:
        with build_lock(self.settings.index_dir):
            catalog = read_catalog(self.settings.library_dir)
            present = self._present(catalog)
            for doc_id in doc_ids:
                if doc_id not in present:
                    raise UnknownDocumentError(
                        f"Unknown document {doc_id!r}: `rag list` shows them."
                    )
            if not set(present) - set(doc_ids):
                raise LastDocumentError(
                    "That would remove every article, and the index needs at least one: add "
                    "another first (POST /documents, rag add)."
                )
            new = catalog.model_copy(deep=True)
            seeds = {p.name for p in self._seed_paths()}
            for doc_id in doc_ids:
                new.articles.pop(doc_id, None)
                if doc_id in seeds and doc_id not in new.removed:
                    new.removed.append(doc_id)
            return self._commit(catalog, new, list(doc_ids))

    def _write(self, items: list[_Prepared], mode: str, replace: bool) -> WriteResult:
        ids = [p.doc_id for p in items]
        if len(set(ids)) != len(ids):
            raise InvalidArticleError(f"The same document id is given twice: {sorted(ids)}.")
        with build_lock(self.settings.index_dir):
            catalog = read_catalog(self.settings.library_dir)
            present = self._present(catalog)
            for doc_id in ids:
                if mode == "update" and doc_id not in present:
                    raise UnknownDocumentError(
                        f"Unknown document {doc_id!r}: add it first (POST /documents, rag add)."
                    )
                if mode == "add" and doc_id in present and not replace:
                    raise DocumentExistsError(
                        f"A document with id {doc_id!r} already exists: update it (PUT "
                        f"/documents/{doc_id}, `rag add --replace`) or choose another id."
                    )
            new = catalog.model_copy(deep=True)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            for item in items:
                previous = catalog.articles.get(item.doc_id)
                new.articles[item.doc_id] = CatalogEntry(
                    text=self._store_blob(TEXTS, item.text.encode("utf-8"), ".txt"),
                    original=self._store_blob(ORIGINALS, item.original, item.original_suffix),
                    format=item.format,
                    meta=item.meta,
                    hints=item.hints,
                    added_at=previous.added_at if previous else now,
                    updated_at=now if item.doc_id in present else None,
                )
            return self._commit(catalog, new, ids)

    def _commit(self, old: Catalog, new: Catalog, ids: list[str]) -> WriteResult:
        """Replace the catalog, then build; put the old catalog back if the build fails."""
        self._write_catalog(new)
        try:
            index = self.store.sync_locked(self.embedder, self.reporter, self.annotator)
        except BaseException:
            self._write_catalog(old)
            raise
        self._collect_garbage(new)
        return WriteResult(ids, index, [index.documents[i] for i in ids if i in index.documents])

    def _present(self, catalog: Catalog) -> set[str]:
        seeds = {p.name for p in self._seed_paths()} - set(catalog.removed)
        return seeds | set(catalog.articles)

    def _seed_paths(self) -> list[Path]:
        try:
            return seed_files(self.settings.seeds_dir)
        except Exception:  # no seeds folder or no seeds: the library stands alone
            return []

    def _store_blob(self, folder: str, data: bytes, suffix: str) -> str:
        rel = f"{folder}/{sha256_bytes(data)}{suffix}"
        path = self.settings.library_dir / rel
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
            fsync_dir(path.parent)
        return rel

    def _write_catalog(self, catalog: Catalog) -> None:
        self.settings.library_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            self.settings.library_dir / CATALOG,
            catalog.model_dump_json(indent=2).encode("utf-8"),
        )
        fsync_dir(self.settings.library_dir)

    def _collect_garbage(self, catalog: Catalog) -> None:
        """Blobs no article names any more (an update's old text, a deleted article)."""
        keep = {e.text for e in catalog.articles.values()} | {
            e.original for e in catalog.articles.values()
        }
        for folder in (TEXTS, ORIGINALS):
            for path in (self.settings.library_dir / folder).glob("*"):
                if f"{folder}/{path.name}" not in keep and not path.name.startswith("."):
                    path.unlink(missing_ok=True)


def list_documents(settings: Settings, store: Store | None = None) -> list[Document]:
    """The corpus as it is on disk, analysed, without loading a model: metadata comes from
    the live index where an article is unchanged, else from analysing it now."""
    sources = load_sources(settings)
    store = store or open_store(settings)
    stored = store.stored_documents(sources)
    indexed = indexed_roles(settings)
    return [stored.get(s.doc_id) or load_document(s, indexed) for s in sources]
