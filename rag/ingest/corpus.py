"""Load articles byte-exact and analyse them: a role for every line (rag/ingest/layout.py),
metadata from the page, overridden by the sidecar seeds/metadata.json or what the user gave,
and the furniture as excluded spans, without touching offsets."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from rag.errors import SeedReadError, SeedsNotFoundError
from rag.ingest.layout import analyse_page, lines_of
from rag.settings import Settings
from rag.text.valid import text_problem
from rag.types import BODY_ROLES, INDEXED_ROLES, Document, Role, Span

if TYPE_CHECKING:
    from rag.ingest.sources import Source

METADATA_FILE = "metadata.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seed_files(seeds_dir: Path) -> list[Path]:
    if not seeds_dir.is_dir():
        raise SeedsNotFoundError(
            f"Seeds folder not found: {seeds_dir}. "
            "Point RAG_SEEDS_DIR at a folder of .txt articles."
        )
    files = sorted(p for p in seeds_dir.glob("*.txt") if p.is_file())
    if not files:
        raise SeedsNotFoundError(f"No .txt articles in {seeds_dir}.")
    return files


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SeedReadError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def read_article(path: Path) -> tuple[str, str]:
    data = _read_bytes(path)
    try:
        # newline="" semantics: offsets must match Python's view of the UTF-8 text exactly.
        return data.decode("utf-8"), sha256_bytes(data)
    except UnicodeDecodeError as exc:
        raise SeedReadError(
            f"{path.name} is not valid UTF-8 text ({exc.reason} at byte {exc.start})."
        ) from exc


class SidecarEntry(BaseModel):
    """One article's entry in seeds/metadata.json."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    outlet: str | None = None
    date: str | None = None  # ISO date shown in the article
    sort_date: str | None = None  # "YYYY-MM" or ISO date, only to order articles in time
    date_note: str | None = None  # wording for an inferred date, e.g. "late 2024 (…)"

    @field_validator("*")
    @classmethod
    def _valid_text(cls, value: str | None) -> str | None:
        problem = None if value is None else text_problem(value)
        if problem:
            raise ValueError(f"not valid text: {problem}")
        return value

    @field_validator("date")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            datetime.strptime(value, "%Y-%m-%d")  # ValueError -> validation error
        return value

    @field_validator("sort_date")
    @classmethod
    def _sortable(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{4}-\d{2}(?:-\d{2})?", value):
            raise ValueError("sort_date must look like YYYY-MM or YYYY-MM-DD")
        return value

    @field_validator("date_note")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 120:
            raise ValueError("date_note is limited to 120 characters")
        return value


def load_sidecar(seeds_dir: Path) -> dict[str, SidecarEntry]:
    sidecar = seeds_dir / METADATA_FILE
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(_read_bytes(sidecar).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeedReadError(f"{sidecar} is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise SeedReadError(f"{sidecar} must hold a JSON object keyed by file name.")
    entries = {}
    for name, value in data.items():
        if name.startswith("_"):
            continue  # comments such as "_about"
        try:
            entries[name] = SidecarEntry.model_validate(value)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "entry"
            raise SeedReadError(f"{sidecar}: entry {name!r}, {where}: {problem['msg']}.") from exc
    return entries


def load_document(source: Source, indexed: frozenset[Role] = BODY_ROLES) -> Document:
    """Roles of every line, and the metadata: what the user or the sidecar gave first, then
    what an HTML page declared (hints), then what the page's lines say."""
    layout = analyse_page(source.text)
    meta, hints = source.meta, source.hints
    roles = tuple(layout.roles)
    junk = tuple(Span(r.start, r.end) for r in roles if r.role not in indexed)
    date = meta.date or _iso(hints.date) or layout.dates.published
    return Document(
        doc_id=source.doc_id,
        text=source.text,
        title=meta.title or hints.title or layout.title or _fallback_title(source.text, junk),
        outlet=meta.outlet or hints.site_name or layout.outlet,
        date=date,
        sort_date=date or meta.sort_date,
        date_note=meta.date_note,
        junk=junk,
        sha256=source.sha256,
        authors=tuple(hints.authors or layout.authors),
        updated=layout.dates.updated,
        roles=roles,
        source=source.origin,
    )


def indexed_roles(settings: Settings) -> frozenset[Role]:
    """The line roles indexed as sentences under these settings."""
    return INDEXED_ROLES if settings.index_author_lines else BODY_ROLES


def _iso(value: str | None) -> str | None:
    """An ISO date from an HTML page's metadata, or None if it is something else."""
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").date().isoformat() if value else None
    except ValueError:
        return None


def describe_date(doc: Document) -> str | None:
    """ "July 1, 2024" for a dated article, "late 2024" for an inferred one, else None."""
    if doc.date:
        return datetime.strptime(doc.date, "%Y-%m-%d").strftime("%B %-d, %Y")
    if doc.date_note:
        return doc.date_note.split(" (")[0]
    return None


def _fallback_title(text: str, junk: tuple[Span, ...]) -> str:
    """No headline: the opening words of the first prose line."""
    for start, _end, line in lines_of(text):
        if line.strip() and not any(j.start <= start < j.end for j in junk):
            words = line.split()
            head = " ".join(words[:12])
            return head + ("…" if len(words) > 12 else "")
    return "(untitled)"


def load_corpus(seeds_dir: Path, indexed: frozenset[Role] = BODY_ROLES) -> list[Document]:
    """The seed articles of a folder, analysed (the index loads seeds and library together,
    through rag.ingest.sources.load_sources)."""
    from rag.ingest.sources import Hints, Source

    sidecar = load_sidecar(seeds_dir)
    out = []
    for path in seed_files(seeds_dir):
        text, digest = read_article(path)
        meta = sidecar.get(path.name) or SidecarEntry()
        out.append(load_document(Source(path.name, text, digest, meta, Hints(), "seed"), indexed))
    return out
