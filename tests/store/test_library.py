"""Adding, updating and removing articles: the library and the incremental index (fake
embedder, in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.analyze import Annotator
from rag.embed import FakeEmbedder
from rag.errors import (
    ArticleTooLargeError,
    DocumentExistsError,
    InvalidArticleError,
    UnknownDocumentError,
)
from rag.settings import Settings
from rag.store import ensure_index, load_index
from rag.store import index as store
from rag.store.library import Library, NewArticle, list_documents
from rag.types import Role
from tests.articles import ARTICLE, HTML_PAGE, UPDATED_ARTICLE
from tests.conftest import SEEDS


class CountingEmbedder(FakeEmbedder):
    """Counts the texts it encodes, to see what an incremental build recomputes."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[str] = []

    def encode(self, texts, batch_size=32):  # type: ignore[no-untyped-def]
        self.encoded += list(texts)
        return super().encode(texts, batch_size=batch_size)


@pytest.fixture
def library(settings: Settings) -> Library:
    return Library(settings, CountingEmbedder(), Annotator().load())


def _article(text: str = ARTICLE, **kw: object) -> NewArticle:
    return NewArticle(text.encode(), **kw)  # type: ignore[arg-type]


def test_add_indexes_only_the_new_article(settings: Settings) -> None:
    settings = settings.model_copy(update={"index_author_lines": True})
    library = Library(settings, CountingEmbedder(), Annotator().load())
    before = ensure_index(settings, FakeEmbedder())
    result = library.add([_article(doc_id="quillon.txt")])
    embedder = library.embedder
    assert isinstance(embedder, CountingEmbedder)
    new = [s for s in result.index.sentences if s.doc_id == "quillon.txt"]
    new_chunks = [c for c in result.index.chunks if c.doc_id == "quillon.txt"]
    new_words = set(result.index.word_vectors.words) - set(before.word_vectors.words)
    assert new_words and {"quillon", "tallinn"} <= new_words
    # nothing else re-embedded: the new article's sentences and passages, and words only it uses
    assert sorted(embedder.encoded) == sorted(
        [s.text for s in new] + [c.text for c in new_chunks] + sorted(new_words)
    )
    assert result.index.manifest["index"]["embedded_sentences"] == len(new)
    assert result.index.manifest["index"]["embedded_words"] == len(new_words)
    doc = result.index.documents["quillon.txt"]
    assert doc.title == "Allies pick Tallinn for the new Quillon drone depot"
    assert doc.outlet == "The Harbour Gazette" and doc.date == "2025-03-03"
    assert doc.authors == ("Mirela Quast",) and doc.source == "library"
    roles = {s.role for s in new}
    assert roles == {Role.BODY, Role.BYLINE, Role.AUTHOR_BIO}
    assert not any("Advertisement" in s.text or "Share:" in s.text for s in new)
    for s in result.index.sentences:  # offsets refer to the stored text
        assert result.index.documents[s.doc_id].text[s.start : s.end] == s.text
    # what another process loads is the same
    loaded = load_index(settings, FakeEmbedder())
    assert loaded.sentences == result.index.sentences and loaded.chunks == result.index.chunks
    assert (loaded.sentence_vectors == result.index.sentence_vectors).all()
    assert [a.to_json() for a in loaded.annotations] == [
        a.to_json() for a in result.index.annotations
    ]


def test_reused_vectors_equal_a_full_rebuild(settings: Settings, library: Library) -> None:
    ensure_index(settings, FakeEmbedder())
    incremental = library.add([_article(doc_id="quillon.txt")]).index
    full = store.build_index(settings, FakeEmbedder(), reuse=False)
    assert full.sentences == incremental.sentences
    assert (full.sentence_vectors == incremental.sentence_vectors).all()


def test_update_and_remove(settings: Settings, library: Library) -> None:
    library.add([_article(doc_id="quillon.txt")])
    updated = library.update("quillon.txt", _article(UPDATED_ARTICLE))
    assert "Riga" in updated.index.documents["quillon.txt"].title
    assert not any("Tallinn, the alliance" in s.text for s in updated.index.sentences)
    removed = library.remove(["quillon.txt", "000_14cb71510f2b07a6.txt"]).index
    assert "quillon.txt" not in removed.documents
    assert "000_14cb71510f2b07a6.txt" not in removed.documents
    assert {s.doc_id for s in removed.sentences} == set(removed.documents)
    # the seed file itself is untouched, and nothing of the article is left in the library
    assert (settings.seeds_dir / "000_14cb71510f2b07a6.txt").read_bytes() == (
        SEEDS / "000_14cb71510f2b07a6.txt"
    ).read_bytes()
    assert not list((settings.library_dir / "texts").iterdir())
    assert [d.doc_id for d in list_documents(settings)] == sorted(removed.documents)


def test_the_original_bytes_are_kept_and_html_is_extracted(
    settings: Settings, library: Library
) -> None:
    result = library.add([NewArticle(HTML_PAGE.encode(), filename="depot.html")])
    doc = result.index.documents["depot.html"]
    assert doc.title == "Allies pick Tallinn for drone depot"
    assert doc.outlet == "Harbour Gazette" and doc.date == "2025-03-03"
    assert doc.authors == ("Mirela Quast",)
    assert "<p>" not in doc.text and "Accept all" not in doc.text
    catalog = json.loads((settings.library_dir / "catalog.json").read_text())
    original = settings.library_dir / catalog["articles"]["depot.html"]["original"]
    assert original.read_bytes() == HTML_PAGE.encode()


@pytest.mark.parametrize(
    ("data", "error", "says"),
    [
        (b"", InvalidArticleError, "empty"),
        (b"   \n\t \n", InvalidArticleError, "empty"),
        (b"caf\xe9 au lait", InvalidArticleError, "not valid UTF-8"),
        (b"\x00\x01\x02ELF binary" * 20, InvalidArticleError, "binary"),
        (b"Sign in | Subscribe\nAdvertisement\n", InvalidArticleError, "furniture"),
        (b"x" * (3 * 1024 * 1024), ArticleTooLargeError, "limit"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_lost(
    settings: Settings, library: Library, data: bytes, error: type[Exception], says: str
) -> None:
    before = library.add([_article(doc_id="quillon.txt")]).index
    catalog = (settings.library_dir / "catalog.json").read_bytes()
    with pytest.raises(error, match=says):
        library.add([NewArticle(data, doc_id="bad.txt")])
    assert (settings.library_dir / "catalog.json").read_bytes() == catalog
    assert load_index(settings, FakeEmbedder()).path == before.path


def test_existing_and_unknown_ids(settings: Settings, library: Library) -> None:
    library.add([_article(doc_id="quillon.txt")])
    with pytest.raises(DocumentExistsError, match="already exists"):
        library.add([_article(doc_id="quillon.txt")])
    with pytest.raises(DocumentExistsError):
        library.add([_article(doc_id="003_8a617f4c2dcdd12b.txt")])  # a seed's id
    with pytest.raises(UnknownDocumentError):
        library.update("nope.txt", _article())
    with pytest.raises(UnknownDocumentError):
        library.remove(["nope.txt"])
    with pytest.raises(InvalidArticleError, match="Invalid document id"):
        library.add([_article(doc_id="../etc/passwd")])
    with pytest.raises(InvalidArticleError, match="date"):
        library.add([_article(doc_id="x.txt", date="yesterday")])


def test_a_failed_build_puts_the_old_catalog_back(
    settings: Settings, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = library.add([_article(doc_id="quillon.txt")]).index
    catalog = (settings.library_dir / "catalog.json").read_bytes()

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "_switch_current", boom)
    with pytest.raises(OSError, match="disk full"):
        library.update("quillon.txt", _article(UPDATED_ARTICLE))
    assert (settings.library_dir / "catalog.json").read_bytes() == catalog
    monkeypatch.undo()
    assert load_index(settings, FakeEmbedder()).path == before.path


def test_author_lines_are_indexed_with_their_role_unless_turned_off(
    settings: Settings, library: Library
) -> None:
    index = library.add([_article(doc_id="quillon.txt")]).index
    roles = {s.role for s in index.sentences if s.doc_id == "quillon.txt"}
    assert Role.BODY in roles and roles & {Role.BYLINE, Role.AUTHOR_BIO}
    prose_only = settings.model_copy(
        update={"index_author_lines": False, "index_dir": settings.index_dir.parent / "prose"}
    )
    index = (
        Library(prose_only, CountingEmbedder(), Annotator().load())
        .add([_article(doc_id="other.txt")])
        .index
    )
    assert {s.role for s in index.sentences} == {Role.BODY}
    assert index.documents["other.txt"].authors == ("Mirela Quast",)


def test_a_seed_update_shadows_the_seed_file(settings: Settings, library: Library) -> None:
    seed = "004_b166df79e4af366c.txt"
    result = library.update(seed, _article())
    assert result.index.documents[seed].source == "library"
    assert (settings.seeds_dir / seed).read_bytes() == (SEEDS / seed).read_bytes()


def test_an_empty_seeds_folder_with_library_articles_is_fine(tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    settings = Settings(
        seeds_dir=tmp_path / "seeds",
        index_dir=tmp_path / "index",
        library_dir=tmp_path / "library",
        embed_backend="fake",
    )
    result = Library(settings, FakeEmbedder(), Annotator().load()).add([_article(doc_id="a.txt")])
    assert list(result.index.documents) == ["a.txt"]
