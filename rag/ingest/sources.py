"""Where the corpus comes from: the seeds folder (read-only) and the library of added articles.

library/ (RAG_LIBRARY_DIR)
  catalog.json            which articles the library holds and their given metadata; replaced
                          atomically, so it is the commit point of every add, update, delete
  texts/<sha256>.txt      the stored text (what is indexed, cited and served), by content hash
  originals/<sha256>.<ext> the bytes as uploaded (the HTML page, or the text file)

A library article shadows a seed with the same id (an update of a seed never touches the seed
file); `removed` lists seed ids deleted by the user. Reading never needs the lock: blobs are
content-addressed and written before the catalog names them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import SeedReadError, SeedsNotFoundError
from rag.ingest.corpus import SidecarEntry, load_sidecar, read_article, seed_files
from rag.ingest.layout import LAYOUT_VERSION
from rag.settings import Settings

CATALOG = "catalog.json"
CATALOG_FORMAT = 1
TEXTS = "texts"
ORIGINALS = "originals"


class Hints(BaseModel):
    """Metadata an HTML page declares about itself (trafilatura), below the user's own."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    date: str | None = None
    authors: list[str] = Field(default_factory=list)
    site_name: str | None = None


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str  # path of the stored text, relative to the library folder
    original: str  # path of the original bytes
    format: Literal["text", "html"] = "text"
    meta: SidecarEntry = Field(default_factory=SidecarEntry)  # given by the user
    hints: Hints = Field(default_factory=Hints)
    added_at: str
    updated_at: str | None = None


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = CATALOG_FORMAT
    articles: dict[str, CatalogEntry] = Field(default_factory=dict)
    removed: list[str] = Field(default_factory=list)  # seed ids the user deleted


def read_catalog(library_dir: Path) -> Catalog:
    path = library_dir / CATALOG
    if not path.is_file():
        return Catalog()
    try:
        return Catalog.model_validate(json.loads(path.read_bytes().decode("utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
        raise SeedReadError(f"The library catalog {path} is unreadable ({exc}).") from exc


@dataclass(frozen=True, slots=True)
class Source:
    """One article of the corpus, read but not analysed."""

    doc_id: str
    text: str
    sha256: str  # of the stored text's UTF-8 bytes
    meta: SidecarEntry  # the sidecar's entry (seeds) or what the user gave (library)
    hints: Hints
    origin: Literal["seed", "library"]

    @property
    def key(self) -> str:
        """Changes whenever anything the document's roles, metadata or records derive from
        changes: its text, its given metadata, the layout rules."""
        parts: dict[str, Any] = {
            "sha256": self.sha256,
            "meta": self.meta.model_dump(exclude_none=True),
            "hints": self.hints.model_dump(exclude_defaults=True),
            "layout": LAYOUT_VERSION,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def load_sources(settings: Settings) -> list[Source]:
    """Every article of the corpus in doc_id order: the seeds (minus those removed, and those
    a library article of the same id replaces) and the library's articles."""
    catalog = read_catalog(settings.library_dir)
    sources: dict[str, Source] = {}
    try:
        seeds = seed_files(settings.seeds_dir)
    except SeedsNotFoundError:
        if not settings.seeds_dir.is_dir() or not catalog.articles:
            raise
        seeds = []  # an empty seeds folder is fine once the library holds articles
    sidecar = load_sidecar(settings.seeds_dir) if seeds else {}
    hidden = set(catalog.removed) | set(catalog.articles)
    for path in seeds:
        if path.name in hidden:
            continue
        text, digest = read_article(path)
        meta = sidecar.get(path.name) or SidecarEntry()
        sources[path.name] = Source(path.name, text, digest, meta, Hints(), "seed")
    for doc_id, entry in catalog.articles.items():
        text, digest = read_article(settings.library_dir / entry.text)
        sources[doc_id] = Source(doc_id, text, digest, entry.meta, entry.hints, "library")
    if not sources:
        raise SeedsNotFoundError(
            f"No articles: {settings.seeds_dir} holds no .txt files and the library is empty. "
            "Add one with `rag add PATH`."
        )
    return [sources[k] for k in sorted(sources)]
