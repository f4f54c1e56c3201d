"""Load the seed articles byte-exact, read their metadata (from the text or the sidecar
seeds/metadata.json) and mark page junk as excluded spans without touching offsets."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from rag.errors import SeedReadError, SeedsNotFoundError
from rag.text.valid import text_problem
from rag.text.wordlists import MONTH_NAMES
from rag.types import Document, Span

METADATA_FILE = "metadata.json"

_BANNER = re.compile(
    r"oops!|something went wrong|please try again later|enable javascript|"
    r"sign up for|subscribe to|advertisement|cookie",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*[•\-*–·▪]\s+")
# "By Jane Q. Doe and John Roe": each name two to four capitalised words, nothing after.
_PERSON = r"[A-Z][\w'’-]*\.?(?:\s+[A-Z][\w'’-]*\.?){1,3}"
_BYLINE = re.compile(rf"^\s*By\s+(?P<names>{_PERSON}(?:(?:\s*,\s*|\s+and\s+){_PERSON})*)\s*$")
_DATELINE = re.compile(rf"^\s*(?P<date>(?:{'|'.join(MONTH_NAMES)})\s+\d{{1,2}},\s+\d{{4}})\s*$")
# A short line ending like this is a sentence broken across lines, not a heading.
_DANGLING = re.compile(
    r"\b(?:that|and|or|but|the|a|an|of|to|in|on|for|with|by|as|at|from|which|who|is|are|was)$",
    re.IGNORECASE,
)
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*\s*$|[\"”]\s*$")
_ROLE = re.compile(
    r"\b(correspondent|editor|reporter|bureau chief|columnist|journalist|contributor|"
    r"staff writer|author of)\b",
    re.IGNORECASE,
)
_NAME_IS = re.compile(r"^\s*(?P<name>(?:[A-Z][\w'’-]*\.?\s){1,3}[A-Z][\w'’-]+)\s+is\s+")
KNOWN_OUTLETS = (
    "The Wall Street Journal",
    "Semafor",
    "Reuters",
    "Associated Press",
    "Politico",
    "The New York Times",
    "Financial Times",
)


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


def _read_text(path: Path) -> tuple[str, str]:
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


def _load_sidecar(seeds_dir: Path) -> dict[str, SidecarEntry]:
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


def _lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, line) for every line, end excluding the newline."""
    out = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        out.append((pos, pos + len(line), line))
        pos += len(raw)
    return out


def _is_heading(line: str) -> bool:
    stripped = line.strip()
    words = stripped.split()
    return (
        0 < len(words) <= 16 and not _TERMINAL.search(stripped) and not _DANGLING.search(stripped)
    )


def analyse_layout(text: str) -> tuple[list[Span], dict[str, str]]:
    """Junk spans and metadata found in the text (title, byline authors, outlet, date).

    Line-based: page junk in news dumps sits on lines of its own (banners, headings,
    bylines, bullets, biographies), so whole lines are excluded and offsets never move.
    """
    lines = _lines(text)
    junk: list[Span] = []
    meta: dict[str, str] = {}
    authors: list[str] = []
    first_content = True
    for index, (start, end, line) in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        span = Span(start, end)
        if byline := _BYLINE.match(line):
            authors = [n.strip() for n in re.split(r"\s+and\s+|,\s*", byline["names"]) if n.strip()]
            meta["authors"] = ", ".join(authors)
            junk.append(span)
        elif dateline := _DATELINE.match(line):
            try:
                parsed = datetime.strptime(dateline["date"], "%B %d, %Y").date().isoformat()
                meta.setdefault("date", parsed)
            except ValueError:
                pass  # "February 30, 2024": still a dateline, just not a usable date
            junk.append(span)
        elif _BANNER.search(line) or _BULLET.match(line):
            junk.append(span)
        elif _is_heading(line):
            if stripped in KNOWN_OUTLETS:
                meta.setdefault("outlet", stripped)
            elif first_content and not _continues(lines, index):
                meta.setdefault("title", stripped)
            if not _continues(lines, index):
                junk.append(span)
        elif _is_biography(line, authors):
            junk.append(span)
        first_content = False
    return junk, meta


def _continues(lines: list[tuple[int, int, str]], index: int) -> bool:
    """True when the next non-blank line carries on this line's sentence (starts lower-case)."""
    for _, _, nxt in lines[index + 1 :]:
        if nxt.strip():
            return nxt.strip()[0].islower()
    return False


def _is_biography(line: str, authors: list[str]) -> bool:
    if any(line.strip().startswith(author) for author in authors):
        return True  # a paragraph that opens with the byline's name is the author's bio
    match = _NAME_IS.match(line)
    if not match:
        return False
    first_sentence = line.split(". ")[0]
    return bool(_ROLE.search(first_sentence))


def load_document(path: Path, sidecar: SidecarEntry | None = None) -> Document:
    text, digest = _read_text(path)
    junk, found = analyse_layout(text)
    extra = sidecar or SidecarEntry()
    date = extra.date or found.get("date")
    return Document(
        doc_id=path.name,
        text=text,
        title=extra.title or found.get("title") or _fallback_title(text, junk),
        outlet=extra.outlet or found.get("outlet"),
        date=date,
        sort_date=date or extra.sort_date,
        date_note=extra.date_note,
        junk=tuple(junk),
        sha256=digest,
    )


def describe_date(doc: Document) -> str | None:
    """ "July 1, 2024" for a dated article, "late 2024" for an inferred one, else None."""
    if doc.date:
        return datetime.strptime(doc.date, "%Y-%m-%d").strftime("%B %-d, %Y")
    if doc.date_note:
        return doc.date_note.split(" (")[0]
    return None


def _fallback_title(text: str, junk: list[Span]) -> str:
    """No headline: the opening words of the first prose line."""
    for start, _end, line in _lines(text):
        if line.strip() and not any(j.start <= start < j.end for j in junk):
            words = line.split()
            head = " ".join(words[:12])
            return head + ("…" if len(words) > 12 else "")
    return "(untitled)"


def load_corpus(seeds_dir: Path) -> list[Document]:
    sidecar = _load_sidecar(seeds_dir)
    return [load_document(p, sidecar.get(p.name)) for p in seed_files(seeds_dir)]
