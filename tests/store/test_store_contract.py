"""The store contract: the same behaviour from the file store (FAISS) and the database store
(PostgreSQL + pgvector, a real server), checked by the same tests.

Build, load, reuse, incremental add and delete, failures mid-write, offsets, mismatches, and
the rankings themselves: both stores must rank passages identically on the same articles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from rag.analyze import Annotator
from rag.embed import FakeEmbedder
from rag.errors import IndexMismatchError, StoreUnavailableError
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.store import LoadedIndex, Store, open_store
from rag.store.library import Library, NewArticle, list_documents
from rag.store.pgvector.schema import SCHEMA_VERSION
from rag.text import vocabulary
from tests.articles import ARTICLE, UPDATED_ARTICLE
from tests.conftest import DEV_SET, ROOT
from tests.store.test_library import CountingEmbedder


def _store(settings: Settings) -> Store:
    return open_store(settings)


def _offsets_hold(index: LoadedIndex) -> None:
    for record in [*index.sentences, *index.chunks]:
        assert index.documents[record.doc_id].text[record.start : record.end] == record.text
    for position, sentence in enumerate(index.sentences):
        assert sentence.sent_id == position
    for position, chunk in enumerate(index.chunks):
        assert chunk.chunk_id == position
        for sid in chunk.sentence_ids:
            assert index.sentences[sid].doc_id == chunk.doc_id
            assert chunk.start <= index.sentences[sid].start < chunk.end


def test_build_then_load_round_trips(any_store_settings: Settings) -> None:
    store = _store(any_store_settings)
    built = store.build(FakeEmbedder())
    loaded = store.load(FakeEmbedder())
    assert loaded.version == built.version == store.live_version()
    assert loaded.chunks == built.chunks and loaded.sentences == built.sentences
    assert loaded.documents == built.documents
    assert np.array_equal(loaded.sentence_vectors, built.sentence_vectors)
    assert [a.to_json() for a in loaded.annotations] == [a.to_json() for a in built.annotations]
    assert loaded.word_vectors.words == built.word_vectors.words
    assert np.array_equal(loaded.word_vectors.vectors, built.word_vectors.vectors)
    _offsets_hold(loaded)
    store.close()


def test_the_vocabulary_is_embedded_with_the_model(any_store_settings: Settings) -> None:
    """Every word the sentences use (`vocabulary`), each with the model's vector for it."""
    embedder = FakeEmbedder()
    index = _store(any_store_settings).build(embedder)
    words = index.word_vectors.words
    assert words == vocabulary(s.text for s in index.sentences) and "ukraine" in words
    assert np.allclose(index.word_vectors.vectors, embedder.encode(list(words)), atol=1e-6)
    assert index.manifest["index"]["words"] == len(words)


def test_both_stores_hold_the_same_index(settings: Settings, pg_settings: Settings) -> None:
    files = _store(settings).build(FakeEmbedder())
    database = _store(pg_settings).build(FakeEmbedder())
    assert database.documents == files.documents
    assert database.sentences == files.sentences and database.chunks == files.chunks
    assert np.array_equal(database.sentence_vectors, files.sentence_vectors)
    assert database.word_vectors.words == files.word_vectors.words
    assert np.array_equal(database.word_vectors.vectors, files.word_vectors.vectors)


def _questions(limit: int = 16) -> list[str]:
    lines = DEV_SET.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:limit]


def test_both_stores_rank_alike(settings: Settings, pg_settings: Settings) -> None:
    """Dense chunks, dense sentences and BM25: the same positions in the same order (BM25 in
    SQL computes bm25s's formula; vectors are exact at this size in both)."""
    embedder = FakeEmbedder()
    files = Pipeline.load(settings, embedder=embedder)
    database = Pipeline.load(pg_settings, embedder=embedder)
    for question in _questions():
        a = files.retriever.retrieve(question)
        b = database.retriever.retrieve(question)
        assert b.dense_ranking == a.dense_ranking, question
        assert b.sentence_ranking == a.sentence_ranking, question
        assert b.bm25_ranking == a.bm25_ranking, question
        assert [p.chunk_id for p in b.passages] == [p.chunk_id for p in a.passages]
        assert database.ask(question).answer == files.ask(question).answer
    database.store.close()


def test_rankings_stay_alike_after_incremental_writes(
    settings: Settings, pg_settings: Settings, tmp_path: Path
) -> None:
    """After adds and deletes (database ids no longer follow positions, retired rows remain
    for the grace period) both stores still rank identically."""
    embedder = FakeEmbedder()
    annotator = Annotator().load()
    pipelines = []
    own_library = {"library_dir": tmp_path / "pg-library", "index_dir": tmp_path / "pg-index"}
    for own in (settings, pg_settings.model_copy(update=own_library)):
        store = _store(own)
        store.ensure(embedder, annotator=annotator)
        library = Library(own, embedder, annotator, store=store)
        library.add([NewArticle(ARTICLE.encode(), doc_id="a-new.txt")])
        first_seed = sorted(own.seeds_dir.glob("*.txt"))[0].name
        library.remove([first_seed])
        library.add([NewArticle(UPDATED_ARTICLE.encode(), doc_id="0-front.txt")])
        pipelines.append(Pipeline.load(own, embedder=embedder, annotator=annotator, store=store))
    files, database = pipelines
    assert database.index.chunks == files.index.chunks
    for question in [*_questions(), "Quillon", "What did the council decide?"]:
        a = files.retriever.retrieve(question)
        b = database.retriever.retrieve(question)
        assert (b.dense_ranking, b.sentence_ranking) == (a.dense_ranking, a.sentence_ranking)
        assert b.bm25_ranking == a.bm25_ranking, question


def test_first_use_builds_and_then_reuses(any_store_settings: Settings) -> None:
    embedder = CountingEmbedder()
    first = _store(any_store_settings).ensure(embedder)
    embedded = len(embedder.encoded)
    second = _store(any_store_settings).ensure(embedder)
    assert second.version == first.version
    assert len(embedder.encoded) == embedded  # nothing re-embedded


def test_a_changed_article_is_re_embedded_alone(any_store_settings: Settings) -> None:
    first = _store(any_store_settings).ensure(FakeEmbedder())
    victim = sorted(any_store_settings.seeds_dir.glob("*.txt"))[0]
    victim.write_text(victim.read_text(encoding="utf-8") + "\nA new closing sentence.\n")
    embedder = CountingEmbedder()
    second = _store(any_store_settings).ensure(embedder)
    assert second.version != first.version
    changed = {s.text for s in second.sentences if s.doc_id == victim.name}
    changed |= {c.text for c in second.chunks if c.doc_id == victim.name}
    new_words = set(second.word_vectors.words) - set(first.word_vectors.words)
    assert embedder.encoded and set(embedder.encoded) <= changed | new_words
    assert "closing" in new_words  # no seed uses it
    assert second.manifest["index"]["embedded_words"] == len(new_words)
    assert any("A new closing sentence." in s.text for s in second.sentences)
    _offsets_hold(second)


def test_changed_chunking_rebuilds(any_store_settings: Settings) -> None:
    first = _store(any_store_settings).ensure(FakeEmbedder())
    wider = any_store_settings.model_copy(update={"chunk_sentences": 6, "chunk_overlap": 1})
    second = _store(wider).ensure(FakeEmbedder())
    assert second.version != first.version and len(second.chunks) < len(first.chunks)


def test_terms_written_another_way_rebuild(
    any_store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.store import manifest

    first = _store(any_store_settings).ensure(FakeEmbedder())
    # stored BM25 postings (the PostgreSQL store keeps them) must be written as queries are
    monkeypatch.setattr(manifest, "TERMS_VERSION", manifest.TERMS_VERSION + 1)
    second = _store(any_store_settings).ensure(FakeEmbedder())
    assert second.version != first.version


def test_stale_index_without_auto_index_says_what_to_do(any_store_settings: Settings) -> None:
    _store(any_store_settings).ensure(FakeEmbedder())
    victim = sorted(any_store_settings.seeds_dir.glob("*.txt"))[0]
    victim.write_text(victim.read_text(encoding="utf-8") + "\nEdited.\n")
    strict = any_store_settings.model_copy(update={"auto_index": False})
    with pytest.raises(IndexMismatchError, match=rf"{victim.name}.*rag index"):
        _store(strict).ensure(FakeEmbedder())


def test_another_model_is_a_mismatch(any_store_settings: Settings) -> None:
    _store(any_store_settings).ensure(FakeEmbedder())
    other = FakeEmbedder()
    other.model_id = "another/model"
    with pytest.raises(IndexMismatchError, match="embedding"):
        _store(any_store_settings).load(other)


class OtherModel(FakeEmbedder):
    """Another model of the same dimension: other weights, other vectors."""

    def __init__(self) -> None:
        super().__init__()
        self.model_id = self.fingerprint = "another/model"

    def encode(self, texts, batch_size=32, show_progress=False):  # type: ignore[no-untyped-def]
        vectors = super().encode(texts, batch_size=batch_size)[:, ::-1]
        return np.ascontiguousarray(vectors)


def test_another_model_rebuilds_every_vector_words_too(any_store_settings: Settings) -> None:
    first = _store(any_store_settings).ensure(FakeEmbedder())
    other = OtherModel()
    rebuilt = _store(any_store_settings).ensure(other)
    assert rebuilt.version != first.version
    assert rebuilt.word_vectors.words == first.word_vectors.words
    assert np.allclose(rebuilt.word_vectors.vectors, other.encode(list(first.word_vectors.words)))
    assert not np.allclose(rebuilt.word_vectors.vectors, first.word_vectors.vectors)
    assert rebuilt.manifest["index"]["embedded_words"] == len(first.word_vectors.words)


def test_a_failure_mid_write_leaves_the_previous_index(any_store_settings: Settings) -> None:
    good = _store(any_store_settings).ensure(FakeEmbedder())
    victim = sorted(any_store_settings.seeds_dir.glob("*.txt"))[0]
    original = victim.read_bytes()
    victim.write_text(victim.read_text(encoding="utf-8") + "\nOne more sentence.\n")

    class FailingEmbedder(FakeEmbedder):
        def encode(self, texts, batch_size=32):  # type: ignore[no-untyped-def]
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _store(any_store_settings).build(FailingEmbedder())
    store = _store(any_store_settings)
    assert store.live_version() == good.version
    victim.write_bytes(original)
    survivor = _store(any_store_settings).load(FakeEmbedder())
    assert survivor.version == good.version and survivor.chunks == good.chunks


def test_library_writes_are_incremental(any_store_settings: Settings) -> None:
    embedder = CountingEmbedder()
    store = _store(any_store_settings)
    base = store.ensure(embedder)
    library = Library(any_store_settings, embedder, Annotator().load(), store=store)
    embedder.encoded.clear()
    added = library.add([NewArticle(ARTICLE.encode(), doc_id="new.txt")]).index
    assert "new.txt" in added.documents and added.version != base.version
    new_texts = {s.text for s in added.sentences if s.doc_id == "new.txt"} | {
        c.text for c in added.chunks if c.doc_id == "new.txt"
    }
    new_words = set(added.word_vectors.words) - set(base.word_vectors.words)
    assert new_words and set(embedder.encoded) <= new_texts | new_words  # only the new article
    _offsets_hold(added)

    updated = library.update("new.txt", NewArticle(UPDATED_ARTICLE.encode())).index
    assert updated.documents["new.txt"].text.strip() == UPDATED_ARTICLE.strip()
    _offsets_hold(updated)

    removed = library.remove(["new.txt"]).index
    assert "new.txt" not in removed.documents
    assert removed.chunks == base.chunks and removed.sentences == base.sentences
    assert removed.word_vectors.words == base.word_vectors.words  # its own words went with it
    assert [d.doc_id for d in list_documents(any_store_settings, store)] == sorted(
        removed.documents
    )
    rebuilt = _store(any_store_settings).build(FakeEmbedder(), reuse=False)
    assert np.array_equal(rebuilt.sentence_vectors, removed.sentence_vectors)
    assert np.array_equal(rebuilt.word_vectors.vectors, removed.word_vectors.vectors)
    store.close()


def test_concurrent_first_use_builds_once(any_store_settings: Settings) -> None:
    embedder = CountingEmbedder()
    versions: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            versions.append(_store(any_store_settings).ensure(embedder).version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(versions)) == 1
    index = _store(any_store_settings).load(FakeEmbedder())
    one_build = len(index.sentences) + len(index.chunks) + len(index.word_vectors.words)
    assert len(embedder.encoded) == one_build


# -- the database store only ----------------------------------------------------------------


def test_a_reader_keeps_its_version_while_another_writes(pg_settings: Settings) -> None:
    """A loaded generation searches its own rows only, after later writes commit."""
    embedder = FakeEmbedder()
    reader = Pipeline.load(pg_settings, embedder=embedder)
    before = reader.retriever.retrieve("What new command is NATO setting up?")
    writer = Library(pg_settings, embedder, Annotator().load())
    writer.add([NewArticle(ARTICLE.encode(), doc_id="new.txt")])
    victim = next(iter(reader.index.documents))
    writer.remove([victim])
    after = reader.retriever.retrieve("What new command is NATO setting up?")
    assert [p.chunk_id for p in after.passages] == [p.chunk_id for p in before.passages]
    assert reader.store.live_version() != reader.index.version
    fresh = reader.store.load(embedder)
    assert "new.txt" in fresh.documents and victim not in fresh.documents
    reader.store.close()


def test_replaced_rows_are_collected_after_the_grace_period(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from rag.store.pgvector import store as pg

    store = _store(pg_settings)
    store.ensure(FakeEmbedder())
    library = Library(pg_settings, FakeEmbedder(), Annotator().load(), store=store)
    library.add([NewArticle(ARTICLE.encode(), doc_id="new.txt")])
    library.remove(["new.txt"])  # within the grace period: kept for readers of the last one

    def rows() -> tuple[int, int]:
        assert pg_settings.database_url is not None
        schema = pg_settings.database_schema
        with psycopg.connect(pg_settings.database_url.get_secret_value()) as conn:
            found = conn.execute(
                f'SELECT (SELECT count(*) FROM "{schema}".sentences WHERE retired IS NOT NULL), '
                f'(SELECT count(*) FROM "{schema}".generations)'
            ).fetchone()
        assert found is not None
        return int(found[0]), int(found[1])

    retired, generations = rows()
    assert retired > 0 and generations == 3
    monkeypatch.setattr(pg, "RETIRED_GRACE_S", 0)
    library.add([NewArticle(ARTICLE.encode(), doc_id="other.txt")])
    assert rows() == (0, 2)  # the live generation, and the one it replaced just now
    assert "other.txt" in store.load(FakeEmbedder()).documents
    store.close()


def test_a_killed_writer_leaves_the_previous_index(pg_settings: Settings, tmp_path: Path) -> None:
    """SIGKILL in the middle of a write (after rows were inserted, before commit): the
    database rolls the transaction back."""
    good = _store(pg_settings).ensure(FakeEmbedder())
    victim = sorted(pg_settings.seeds_dir.glob("*.txt"))[0]
    victim.write_text(victim.read_text(encoding="utf-8") + "\nOne more sentence.\n")
    script = tmp_path / "killed_writer.py"
    script.write_text(
        "import os, signal\n"
        "from rag.settings import Settings\n"
        "from rag.store import open_store\n"
        "from rag.store.pgvector import store as pg\n"
        "from rag.embed import FakeEmbedder\n"
        "real = pg.PgVectorStore._finish\n"
        "def die(self, conn, generation):\n"
        "    real(self, conn, generation)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "pg.PgVectorStore._finish = die\n"
        "open_store(Settings()).build(FakeEmbedder())\n"
    )
    assert pg_settings.database_url is not None
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RAG_SEEDS_DIR": str(pg_settings.seeds_dir),
        "RAG_LIBRARY_DIR": str(pg_settings.library_dir),
        "RAG_EMBED_BACKEND": "fake",
        "RAG_STORE": "pgvector",
        "RAG_DATABASE_URL": pg_settings.database_url.get_secret_value(),
        "RAG_DATABASE_SCHEMA": pg_settings.database_schema,
    }
    done = subprocess.run([sys.executable, str(script)], env=env, timeout=120)
    assert done.returncode == -9
    store = _store(pg_settings)
    assert store.live_version() == good.version
    strict = pg_settings.model_copy(update={"auto_index": False})
    with pytest.raises(IndexMismatchError):  # the edit is still not indexed
        _store(strict).ensure(FakeEmbedder())
    assert _store(pg_settings).load(FakeEmbedder()).chunks == good.chunks


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://rag:p@ssw0rd-leak@127.0.0.1:{port}/rag",  # an unencoded @
        "postgresql://rag:s3cret pw-leak@127.0.0.1:{port}/rag",  # a space
        "postgresql://rag:pa%zzss-leak@127.0.0.1:{port}/rag",  # a bad percent escape
        "host=127.0.0.1 port={port} password='secret-leak' dbname=rag user",  # key=value
    ],
)
def test_a_malformed_url_never_shows_the_password(settings: Settings, url: str) -> None:
    from pydantic import SecretStr

    from tests.devserver import free_port

    bad = settings.model_copy(
        update={
            "store": "pgvector",
            "database_url": SecretStr(url.format(port=free_port())),
            "database_connect_timeout": 2.0,
        }
    )
    with pytest.raises(StoreUnavailableError) as err:
        _store(bad).live_version()
    assert "leak" not in str(err.value)


def test_an_old_reader_is_told_to_reload_once_its_rows_are_gone(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.store.pgvector import store as pg

    embedder = FakeEmbedder()
    reader = Pipeline.load(pg_settings, embedder=embedder)
    monkeypatch.setattr(pg, "RETIRED_GRACE_S", 0)
    writer = Library(pg_settings, embedder, Annotator().load())
    writer.add([NewArticle(ARTICLE.encode(), doc_id="one.txt")])
    writer.add([NewArticle(ARTICLE.encode(), doc_id="two.txt")])  # collects the reader's rows
    with pytest.raises(IndexMismatchError, match="reload it"):
        reader.retriever.retrieve("What did the Quillon Council decide?")
    fresh = reader.refreshed()
    assert fresh is not reader and "two.txt" in fresh.index.documents
    assert fresh.retriever.retrieve("What did the Quillon Council decide?").passages
    assert fresh.refreshed() is fresh


def test_an_unreachable_database_is_a_clear_error(settings: Settings) -> None:
    from pydantic import SecretStr

    from tests.devserver import free_port

    down = settings.model_copy(
        update={
            "store": "pgvector",
            "database_url": SecretStr(
                f"postgresql://rag:secret-password@127.0.0.1:{free_port()}/rag"
            ),
            "database_connect_timeout": 2.0,
        }
    )
    with pytest.raises(StoreUnavailableError, match="Cannot reach the index database") as err:
        Pipeline.load(down, embedder=FakeEmbedder())
    assert "secret-password" not in str(err.value)


def test_pgvector_needs_a_database_url() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="RAG_DATABASE_URL"):
        Settings(store="pgvector", database_url=None)


@pytest.mark.slow
def test_the_real_model_answers_alike_on_both_stores(
    real_pipeline: Pipeline, postgres_url: str, tmp_path: Path
) -> None:
    """Every question of eval/dev.jsonl and eval/train.jsonl: the same answer and citations
    from the database as from the files (the issue allows 0.02 of difference; there is none)."""
    from pydantic import SecretStr

    settings = real_pipeline.settings.model_copy(
        update={
            "store": "pgvector",
            "database_url": SecretStr(postgres_url),
            "database_schema": f"real_{os.getpid()}",
            "index_dir": tmp_path / "index",
        }
    )
    database = Pipeline.load(
        settings, embedder=real_pipeline.embedder, annotator=real_pipeline.analyzer
    )
    try:
        questions = [
            json.loads(line)["question"]
            for name in ("dev.jsonl", "train.jsonl")
            for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        assert len(questions) >= 100
        for question in questions:
            a, b = real_pipeline.ask(question), database.ask(question)
            assert (b.answer, b.abstained) == (a.answer, a.abstained), question
            assert b.citations == a.citations, question
    finally:
        database.store.close()
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE')


def test_another_schema_version_is_refused_or_rebuilt(pg_settings: Settings) -> None:
    import psycopg

    _store(pg_settings).ensure(FakeEmbedder())
    assert pg_settings.database_url is not None
    with psycopg.connect(pg_settings.database_url.get_secret_value(), autocommit=True) as conn:
        conn.execute(f'UPDATE "{pg_settings.database_schema}".meta SET schema_version = 0')
    strict = pg_settings.model_copy(update={"auto_index": False})
    with pytest.raises(
        IndexMismatchError, match=f"schema version 0, this version of rag uses {SCHEMA_VERSION}"
    ):
        _store(strict).ensure(FakeEmbedder())
    with pytest.raises(IndexMismatchError, match="schema version 0"):
        _store(pg_settings).load(FakeEmbedder())
    rebuilt = _store(pg_settings).ensure(FakeEmbedder())  # RAG_AUTO_INDEX: remade
    assert rebuilt.chunks and _store(strict).ensure(FakeEmbedder()).version == rebuilt.version
