from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.errors import SeedReadError, SeedsNotFoundError
from rag.ingest import chunk_corpus, load_corpus
from rag.ingest.layout import analyse_page
from rag.types import INDEXED_ROLES, Role
from tests.conftest import ROOT, SEEDS

SHARED = ROOT.parent / "shared" / "seeds"


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared seeds not beside the checkout")
def test_seeds_are_byte_identical_to_the_shared_articles() -> None:
    shared = sorted(p.name for p in SHARED.glob("*.txt"))
    assert shared == sorted(p.name for p in SEEDS.glob("*.txt"))
    for name in shared:
        assert (SEEDS / name).read_bytes() == (SHARED / name).read_bytes(), name


def test_document_ids_are_file_names_and_metadata_is_read() -> None:
    docs = {d.doc_id: d for d in load_corpus(SEEDS)}
    assert set(docs) == {p.name for p in SEEDS.glob("*.txt")}
    wsj = docs["003_8a617f4c2dcdd12b.txt"]
    assert wsj.date == "2024-07-01"
    assert wsj.outlet == "The Wall Street Journal"
    assert docs["001_b9504cd1d273c395.txt"].title == (
        "NATO may take over some US responsibilities for Ukraine aid"
    )
    assert docs["004_b166df79e4af366c.txt"].title == "NATO braces itself for Trump's return"


FURNITURE_MARKERS = [
    "Oops!",
    "Something went wrong",
    "Please try again later",
]
# Key points written as sentences under a bullet: the article's prose (the writers of
# eval/train.jsonl cite 004's as evidence), quoted without the bullet.
PROSE_LIST_ITEMS = [
    "Foreign Policy’s Jack Detsch wrote that NATO is creating a war command",
    "As U.S. aid stalls and the Kremlin is ramping up its own defense industry",
    "The concerns within NATO about a potential Trump re-election",
    "To mitigate these concerns, plans are underway for NATO to take over",
    "The US presidential election 2024 and its potential impact on US policies",
]
_MARKER = re.compile(r"(?:^|\n)\s*[•\-*]\s")
# With RAG_INDEX_AUTHOR_LINES, bylines and author notes are indexed with their role, so
# questions about authors work; by default only the prose is.
AUTHOR_MARKERS = [
    "is Brussels Bureau Chief",
    "national security correspondent",
    "By Michael R. Gordon",
]


def test_page_furniture_never_reaches_sentences_or_chunks() -> None:
    sentences, chunks = chunk_corpus(load_corpus(SEEDS), 3, 1)
    for marker in AUTHOR_MARKERS:  # by default
        assert not any(marker in s.text for s in sentences), marker
    sentences, chunks = chunk_corpus(load_corpus(SEEDS, INDEXED_ROLES), 3, 1)
    for marker in FURNITURE_MARKERS:
        assert not any(marker in s.text for s in sentences), marker
        assert not any(marker in c.text for c in chunks), marker


def test_list_items_written_as_prose_are_sentences_without_their_marker() -> None:
    sentences, chunks = chunk_corpus(load_corpus(SEEDS), 3, 1)
    for marker in PROSE_LIST_ITEMS:
        found = [s for s in sentences if marker in s.text]
        assert found and all(s.text.startswith(marker) for s in found), marker
        assert all(s.role is Role.BODY for s in found), marker
    assert not any(_MARKER.search(s.text) for s in sentences)
    assert not any(_MARKER.search(c.text) for c in chunks)


def test_bylines_and_author_notes_are_sentences_with_their_role() -> None:
    sentences, chunks = chunk_corpus(load_corpus(SEEDS, INDEXED_ROLES), 3, 1)
    for marker in AUTHOR_MARKERS:
        found = [s for s in sentences if marker in s.text]
        assert found and all(s.role in (Role.BYLINE, Role.AUTHOR_BIO) for s in found), marker
    by_id = {s.sent_id: s for s in sentences}
    for chunk in chunks:  # a chunk never mixes roles
        assert len({by_id[i].role for i in chunk.sentence_ids}) == 1


def test_furniture_spans_cover_the_banner_lines_exactly() -> None:
    text = (
        "Headline here\n\n  • Oops!\n    Something went wrong.\n"
        "Real prose sentence here, long enough to count.\n"
    )
    layout = analyse_page(text)
    excluded = "".join(text[s:e] for s, e in layout.junk())
    assert "Oops!" in excluded and "Something went wrong." in excluded
    assert "Real prose" not in excluded
    assert layout.title == "Headline here"


def test_biography_detected_from_byline_names() -> None:
    text = (
        "By Jane Q. Doe\n\nNATO met today in Brussels and agreed on many things. It agreed.\n\n"
        "Jane Q. Doe covers defense from Brussels. She joined in 2019.\n"
    )
    layout = analyse_page(text)
    roles = {text[r.start : r.end][:10]: r.role for r in layout.roles}
    assert layout.authors == ["Jane Q. Doe"]
    assert roles == {
        "By Jane Q.": Role.BYLINE,
        "NATO met t": Role.BODY,
        "Jane Q. Do": Role.AUTHOR_BIO,
    }
    assert all(r.role in INDEXED_ROLES for r in layout.roles)


def test_missing_seeds_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SeedsNotFoundError, match="Seeds folder not found"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeedsNotFoundError, match=r"No \.txt articles"):
        load_corpus(tmp_path / "empty")


def test_undecodable_seed_is_a_clear_error(seeds_dir: Path) -> None:
    (seeds_dir / "zz_bad.txt").write_bytes(b"caf\xe9 \xff\xfe")
    with pytest.raises(SeedReadError, match=r"zz_bad\.txt is not valid UTF-8"):
        load_corpus(seeds_dir)
