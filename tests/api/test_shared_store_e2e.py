"""End to end: several servers and workers over one PostgreSQL + pgvector index (a real
database, real `rag serve` processes). A write through one is answered by all at once; the
file store's workers catch up by polling."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.test_corpus_e2e import AUTH, corpus_env, doc_ids, wait_for
from tests.articles import ARTICLE, QUESTION, UPDATED_ARTICLE
from tests.devserver import running_server

pytestmark = pytest.mark.e2e


def pg_env(tmp: Path, url: str, schema: str) -> dict[str, str]:
    # Servers on one machine share the library folder (the source of record for added
    # articles) and the index folder (its lock); the index itself is in the database.
    return {
        **corpus_env(tmp),
        "RAG_STORE": "pgvector",
        "RAG_DATABASE_URL": url,
        "RAG_DATABASE_SCHEMA": schema,
    }


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _ask(base: str, question: str = QUESTION) -> dict:  # type: ignore[type-arg]
    response = httpx.post(f"{base}/ask", json={"question": question}, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_write_through_one_server_is_answered_by_the_other_at_once(
    tmp_path: Path, postgres_url: str, schema: str
) -> None:
    env = pg_env(tmp_path, postgres_url, schema)
    with ExitStack() as stack:
        a = stack.enter_context(running_server(tmp_path / "a.log", env, timeout=180))
        b = stack.enter_context(running_server(tmp_path / "b.log", env, timeout=180))
        health = httpx.get(f"{b}/health", headers=AUTH).json()
        assert health["store"] == "pgvector"
        version = health["index_version"]

        created = httpx.post(
            f"{a}/documents", json={"text": ARTICLE, "doc_id": "q.txt"}, headers=AUTH, timeout=60
        )
        assert created.status_code == 201, created.text
        # No waiting: the very next request to the other server sees the write.
        assert "q.txt" in doc_ids(b)
        answer = _ask(b)
        assert answer["passages"][0]["doc_id"] == "q.txt"
        text = httpx.get(f"{b}/documents/q.txt", headers=AUTH).json()["text"]
        for citation in answer["citations"]:
            assert text[citation["start"] : citation["end"]] == citation["quote"]
        assert httpx.get(f"{b}/health", headers=AUTH).json()["index_version"] != version

        updated = httpx.put(
            f"{b}/documents/q.txt", json={"text": UPDATED_ARTICLE}, headers=AUTH, timeout=60
        )
        assert updated.status_code == 200, updated.text
        assert httpx.get(f"{a}/documents/q.txt", headers=AUTH).json()["text"] == UPDATED_ARTICLE

        assert httpx.delete(f"{b}/documents/q.txt", headers=AUTH, timeout=60).status_code == 204
        assert "q.txt" not in doc_ids(a)
        assert "q.txt" not in {c["doc_id"] for c in _ask(a)["citations"]}


def test_answers_stay_consistent_while_another_server_writes(
    tmp_path: Path, postgres_url: str, schema: str
) -> None:
    """Readers on one server, writes on the other: every answer cites text that is in the
    document it names, and no request fails."""
    env = pg_env(tmp_path, postgres_url, schema)
    with ExitStack() as stack:
        writer = stack.enter_context(running_server(tmp_path / "w.log", env, timeout=180))
        reader = stack.enter_context(running_server(tmp_path / "r.log", env, timeout=180))

        def write(i: int) -> int:
            doc = {"text": ARTICLE.replace("Quillon", f"Quillon{i}"), "doc_id": f"w{i}.txt"}
            return httpx.post(
                f"{writer}/documents", json=doc, headers=AUTH, timeout=120
            ).status_code

        def read(_: int) -> list[str]:
            problems = []
            answer = _ask(reader)
            for citation in answer["citations"]:
                got = httpx.get(
                    f"{reader}/documents/{citation['doc_id']}", headers=AUTH, timeout=60
                )
                if got.status_code == 404:
                    continue  # deleted since: fine, but never a wrong quote
                text = got.json()["text"]
                if text[citation["start"] : citation["end"]] != citation["quote"]:
                    problems.append(f"{citation['doc_id']} {citation['start']}")
            return problems

        with ThreadPoolExecutor(8) as pool:
            writes = pool.map(write, range(4))
            reads = list(pool.map(read, range(48)))
        assert list(writes) == [201] * 4
        assert reads == [[]] * 48
        assert {f"w{i}.txt" for i in range(4)} <= doc_ids(reader)


@pytest.mark.parametrize("store", ["pgvector", "faiss"])
def test_two_workers_serve_one_corpus(
    tmp_path: Path, postgres_url: str, schema: str, store: str
) -> None:
    """`rag serve --workers 2`: after a write through one worker, both answer from the new
    corpus (pgvector: on the next request; FAISS: once the other worker has polled)."""
    env = pg_env(tmp_path, postgres_url, schema) if store == "pgvector" else corpus_env(tmp_path)
    args = ("--no-access-log", "--workers", "2")
    with running_server(tmp_path / "server.log", env, timeout=240, extra_args=args) as base:
        created = httpx.post(
            f"{base}/documents", json={"text": ARTICLE, "doc_id": "q.txt"}, headers=AUTH, timeout=60
        )
        assert created.status_code == 201, created.text

        # New connections spread over the workers (the kernel hands each accept to one).
        def seen_by_all() -> bool:
            return all("q.txt" in doc_ids(base) for _ in range(20))

        if store == "pgvector":
            assert seen_by_all()
        else:
            wait_for(seen_by_all, "both workers serve the added article")
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert log.count("Application startup complete") == 2
