"""POST/PUT/DELETE /documents through TestClient (fake embedder): writes served at once,
deletion everywhere, auth rules, bad input, and builds made by another process picked up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.analyze import Annotator
from rag.embed import FakeEmbedder
from rag.settings import Settings
from rag.store.library import Library, NewArticle
from tests.api.test_api import assert_error
from tests.articles import ARTICLE, HTML_PAGE, QUESTION, UPDATED_ARTICLE

KEY = "write-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def keyed(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings=settings.model_copy(update={"api_key": KEY}))) as c:
        yield c


def _cited(client: TestClient, question: str = QUESTION) -> set[str]:
    body = client.post("/ask", json={"question": question}, headers=AUTH).json()
    return {c["doc_id"] for c in body["citations"]} | {p["doc_id"] for p in body["passages"]}


def test_add_ask_update_delete_without_restart(keyed: TestClient) -> None:
    version = keyed.get("/health", headers=AUTH).json()["index_version"]
    created = keyed.post("/documents", json={"text": ARTICLE, "doc_id": "q.txt"}, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["doc_id"] == "q.txt" and created.headers["location"] == "/documents/q.txt"
    health = keyed.get("/health", headers=AUTH).json()
    assert health["index_version"] != version and health["documents"] == 6
    answer = keyed.post("/ask", json={"question": QUESTION}, headers=AUTH).json()
    assert answer["passages"][0]["doc_id"] == "q.txt"
    text = keyed.get("/documents/q.txt", headers=AUTH).json()["text"]
    assert text == ARTICLE
    for c in answer["citations"]:
        assert text[c["start"] : c["end"]] == c["quote"]
    detail = keyed.get("/documents/q.txt", headers=AUTH).json()
    assert detail["authors"] == ["Mirela Quast"] and detail["source"] == "library"
    assert detail["date"] == "2025-03-03" and detail["outlet"] == "The Harbour Gazette"

    updated = keyed.put("/documents/q.txt", json={"text": UPDATED_ARTICLE}, headers=AUTH)
    assert updated.status_code == 200 and "Riga" in updated.json()["title"]
    assert keyed.get("/documents/q.txt", headers=AUTH).json()["text"] == UPDATED_ARTICLE

    assert keyed.delete("/documents/q.txt", headers=AUTH).status_code == 204
    assert "q.txt" not in _cited(keyed)
    search = keyed.post("/search", json={"query": "Quillon drone depot"}, headers=AUTH).json()
    assert search["passages"] and all(hit["doc_id"] != "q.txt" for hit in search["passages"])
    chat = keyed.post(
        "/v1/chat/completions",
        json={"model": "nato-rag", "messages": [{"role": "user", "content": QUESTION}]},
        headers=AUTH,
    ).json()
    assert "q.txt" not in str(chat)
    assert_error(keyed.get("/documents/q.txt", headers=AUTH), 404)
    assert all(d["doc_id"] != "q.txt" for d in keyed.get("/documents", headers=AUTH).json())


def test_file_upload_and_html(keyed: TestClient) -> None:
    files = {"file": ("depot.html", HTML_PAGE.encode(), "text/html")}
    created = keyed.post("/documents", files=files, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["doc_id"] == "depot.html"
    assert created.json()["outlet"] == "Harbour Gazette"
    as_json = keyed.post(
        "/documents", json={"text": HTML_PAGE, "format": "html", "title": "Mine"}, headers=AUTH
    )
    assert as_json.status_code == 201 and as_json.json()["title"] == "Mine"


def test_bad_writes(keyed: TestClient) -> None:
    keyed.post("/documents", json={"text": ARTICLE, "doc_id": "q.txt"}, headers=AUTH)
    before = keyed.get("/health", headers=AUTH).json()["index_version"]
    assert_error(keyed.post("/documents", json={"text": ARTICLE}), 401)
    assert_error(keyed.post("/documents", json={"text": ""}, headers=AUTH), 422, says="empty")
    assert_error(keyed.post("/documents", json={"text": " \n "}, headers=AUTH), 422)
    assert_error(
        keyed.post("/documents", json={"text": ARTICLE, "doc_id": "q.txt"}, headers=AUTH),
        409,
        code="document_exists",
    )
    assert_error(keyed.put("/documents/nope", json={"text": ARTICLE}, headers=AUTH), 404)
    assert_error(keyed.delete("/documents/nope", headers=AUTH), 404)
    assert_error(keyed.post("/documents", json={"txt": ARTICLE}, headers=AUTH), 422)
    bad_utf8 = {"file": ("a.txt", b"caf\xe9", "text/plain")}
    assert_error(keyed.post("/documents", files=bad_utf8, headers=AUTH), 422, says="UTF-8")
    binary = {"file": ("a.txt", b"\x00\x01\x02\x03" * 100, "application/octet-stream")}
    assert_error(keyed.post("/documents", files=binary, headers=AUTH), 422, says="binary")
    big = {"file": ("a.txt", b"word " * 600_000, "text/plain")}
    assert_error(keyed.post("/documents", files=big, headers=AUTH), 413)
    huge = "x" * (9 * 1024 * 1024)
    assert_error(keyed.post("/documents", json={"text": huge}, headers=AUTH), 413)
    assert_error(
        keyed.post(
            "/documents", content=b"{not json", headers={**AUTH, "content-type": "application/json"}
        ),
        400,
    )
    png = b"\x89PNG\r\n\x1a\n\x00\x00"  # not UTF-8: not JSON either, whatever it says it is
    assert_error(
        keyed.post("/documents", content=png, headers={**AUTH, "content-type": "application/json"}),
        400,
        code="invalid_json",
    )
    assert_error(
        keyed.post("/documents", content=b"hello", headers={**AUTH, "content-type": "text/plain"}),
        415,
        code="unsupported_media_type",
    )
    assert (
        keyed.get("/health", headers=AUTH).json()["index_version"] == before
    )  # nothing stored changed
    assert keyed.get("/documents/q.txt", headers=AUTH).json()["text"] == ARTICLE
    # The last article cannot go: the index needs one.
    everything = [d["doc_id"] for d in keyed.get("/documents", headers=AUTH).json()]
    for doc_id in everything[:-1]:
        assert keyed.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 204
    assert_error(
        keyed.delete(f"/documents/{everything[-1]}", headers=AUTH), 409, code="last_document"
    )
    assert [d["doc_id"] for d in keyed.get("/documents", headers=AUTH).json()] == everything[-1:]


def test_writes_without_a_key_are_refused_unless_allowed(settings: Settings) -> None:
    with TestClient(create_app(settings=settings)) as client:
        assert_error(client.post("/documents", json={"text": ARTICLE}), 403, says="RAG_API_KEY")
        assert_error(client.delete("/documents/003_8a617f4c2dcdd12b.txt"), 403)
    allowed = settings.model_copy(update={"allow_unauthenticated_writes": True})
    with TestClient(create_app(settings=allowed)) as client:
        assert client.post("/documents", json={"text": ARTICLE}).status_code == 201


def test_a_build_made_by_another_process_is_picked_up(keyed: TestClient) -> None:
    service = keyed.app.state.service  # type: ignore[attr-defined]
    other = Library(service.settings, FakeEmbedder(), Annotator().load())
    other.add([NewArticle(ARTICLE.encode(), doc_id="elsewhere.txt")])
    assert service.refresh() is True  # what the watcher does once a second
    assert keyed.get("/documents/elsewhere.txt", headers=AUTH).status_code == 200
    assert service.refresh() is False  # nothing new
