"""HTTP API through FastAPI's TestClient, with the fake embedder (fast tier)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from rag.embed import SerializedEmbedder
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Answer
from tests.conftest import SEEDS

ARTICLE = "003_8a617f4c2dcdd12b.txt"
COMMAND = "What new command is NATO setting up?"
AMMO = "How many rounds of ammunition does Russia produce a year?"
KEY = "s3cret-key"


def make_client(settings: Settings, **app_options: Any) -> tuple[FastAPI, TestClient]:
    app = create_app(settings=settings, **app_options)
    return app, TestClient(app)


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The seeds are only read; the index goes to a temporary folder.
    return Settings(
        seeds_dir=SEEDS, index_dir=tmp_path_factory.mktemp("index"), embed_backend="fake"
    )


@pytest.fixture(scope="module")
def client(api_settings: Settings) -> Iterator[TestClient]:
    _, test_client = make_client(api_settings)
    with test_client:  # runs the lifespan: loads the pipeline once for the module
        yield test_client


@pytest.fixture(scope="module")
def keyed_client(api_settings: Settings) -> Iterator[TestClient]:
    _, test_client = make_client(api_settings.model_copy(update={"api_key": KEY}))
    with test_client:
        yield test_client


def assert_error(response: Any, status: int, *, code: str | None = None, says: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code
    assert says.lower() in error["message"].lower()
    assert "Traceback" not in response.text


def sse_payloads(body: str) -> list[Any]:
    events = [block for block in body.split("\n\n") if block.strip()]
    assert all(block.startswith("data: ") for block in events), body
    return [block.removeprefix("data: ") for block in events]


def chat_body(*messages: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "model": "nato-rag",
        "messages": [{"role": r, "content": c} for r, c in messages],
        **extra,
    }


# --- health, docs, metrics ----------------------------------------------------------------


def test_health_reports_the_loaded_index(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    data = health.json()
    assert data["status"] == "ok"
    assert data["documents"] == 5 and data["chunks"] > 5 and data["sentences"] > data["chunks"]
    assert data["model_id"].startswith("fake-") and data["embed_backend"] == "fake"
    assert data["index_built_at"] and data["rag_version"] == data["index_rag_version"]


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert "swagger" in client.get("/docs").text.lower()
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/ask", "/search", "/v1/chat/completions", "/documents/{doc_id}", "/health"):
        assert path in paths


def test_metrics_count_requests_per_handler_in_prometheus_format(client: TestClient) -> None:
    client.post("/ask", json={"question": AMMO})
    client.post("/ask", json={"question": ""})
    text = client.get("/metrics").text
    assert 'http_requests_total{handler="/ask",method="POST",status="2xx"}' in text
    assert 'http_requests_total{handler="/ask",method="POST",status="4xx"}' in text
    assert 'http_request_duration_seconds_bucket{handler="/ask"' in text
    assert "rag_answers_total" in text


# --- /ask and /search ---------------------------------------------------------------------


def test_ask_returns_the_answer_object_with_exact_citations(client: TestClient) -> None:
    response = client.post("/ask", json={"question": AMMO, "top_k": 3})
    assert response.status_code == 200
    answer = Answer.model_validate(response.json())
    assert "3 million" in answer.answer and not answer.abstained
    assert len(answer.passages) == 3 and answer.citations
    for citation in answer.citations:
        text = (SEEDS / citation.doc_id).read_text(encoding="utf-8")
        assert text[citation.start : citation.end] == citation.quote
        assert f"[{citation.marker}]" in answer.answer


def test_search_returns_ranked_passages_with_offsets(client: TestClient) -> None:
    response = client.post("/search", json={"query": "Ramstein Group", "top_k": 4})
    assert response.status_code == 200
    data = response.json()
    assert "answer" not in data and [p["rank"] for p in data["passages"]] == [1, 2, 3, 4]
    scores = [p["score"] for p in data["passages"]]
    assert scores == sorted(scores, reverse=True)
    for p in data["passages"]:
        text = (SEEDS / p["doc_id"]).read_text(encoding="utf-8")
        assert text[p["start"] : p["end"]] == p["text"] and p["title"]
    assert any("Ramstein" in p["text"] for p in data["passages"])


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n\t"}, "empty"),
        ({"question": "x" * 2001}, "limit is 2000"),
        ({"question": 42}, "question: input should be a valid string"),
        ({"question": ["a"]}, "question"),
        ({}, "question: field required"),
        ({"question": "Who?", "top_k": 0}, "top_k"),
        ({"question": "Who?", "top_k": 51}, "top_k"),
        ({"question": "Who?", "top_k": "5"}, "top_k"),
        ({"question": "Who?", "top_k": True}, "top_k"),
        ({"question": "Who?", "topk": 3}, "topk: unknown field"),
    ],
)
def test_ask_rejects_bad_input_with_a_json_error(
    client: TestClient, body: dict[str, Any], says: str
) -> None:
    assert_error(client.post("/ask", json=body), 422, says=says)


def test_search_rejects_an_empty_query(client: TestClient) -> None:
    assert_error(client.post("/search", json={"query": " "}), 422, code="invalid_question")


def test_question_limit_follows_the_settings_dependency(api_settings: Settings) -> None:
    _, test_client = make_client(api_settings.model_copy(update={"max_question_chars": 10}))
    with test_client:
        assert_error(
            test_client.post("/ask", json={"question": "Where is the new command?"}),
            422,
            says="limit is 10",
        )


def test_non_json_and_malformed_bodies(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    assert_error(
        client.post("/ask", content=b'{"question": ', headers=headers), 400, code="invalid_json"
    )
    assert_error(
        client.post("/ask", content=b"question=hi", headers={"content-type": "text/plain"}),
        422,
        says="must be a JSON object",
    )
    assert_error(client.post("/ask", content=b"[1, 2]", headers=headers), 422)
    assert_error(client.post("/ask"), 422, says="body is missing")


def test_oversized_bodies_are_refused(client: TestClient) -> None:
    big = json.dumps({"question": "x" * 70_000}).encode()
    assert_error(
        client.post("/ask", content=big, headers={"content-type": "application/json"}),
        413,
        code="request_too_large",
    )

    def chunked() -> Iterator[bytes]:  # no Content-Length: only the counted bytes can tell
        yield b'{"question": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    response = client.post("/ask", content=chunked(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, code="request_too_large")
    # Just under the limit is still read (and then refused for its length, not its size).
    near = json.dumps({"question": "x" * 60_000}).encode()
    assert_error(
        client.post("/ask", content=near, headers={"content-type": "application/json"}),
        422,
        code="invalid_question",
    )


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404, code="not_found")
    assert_error(client.get("/ask"), 405, code="method_not_allowed")


# --- /documents ---------------------------------------------------------------------------


def test_documents_are_listed_with_metadata(client: TestClient) -> None:
    docs = client.get("/documents").json()
    assert len(docs) == 5
    by_id = {d["doc_id"]: d for d in docs}
    wsj = by_id[ARTICLE]
    assert wsj["outlet"] == "The Wall Street Journal" and wsj["date"] == "2024-07-01"
    assert wsj["length"] == len((SEEDS / ARTICLE).read_text(encoding="utf-8"))
    total_chunks = client.get("/health").json()["chunks"]
    assert sum(d["chunk_count"] for d in docs) == total_chunks
    assert all(d["title"] and d["chunk_count"] > 0 for d in docs)


def test_a_document_with_a_span_in_its_paragraph(client: TestClient) -> None:
    text = (SEEDS / ARTICLE).read_text(encoding="utf-8")
    start = text.index("nearly 700")
    end = start + len("nearly 700")
    data = client.get(f"/documents/{ARTICLE}", params={"start": start, "end": end}).json()
    assert data["text"] == text
    span = data["span"]
    assert span["text"] == "nearly 700"
    paragraph = span["paragraph"]
    assert paragraph["text"] == text[paragraph["start"] : paragraph["end"]]
    assert paragraph["text"].startswith("The operation, to be called NATO Security Assistance")
    assert paragraph["start"] <= start and end <= paragraph["end"]
    assert "\n" not in paragraph["text"]


def test_a_document_without_span(client: TestClient) -> None:
    data = client.get(f"/documents/{ARTICLE}").json()
    assert data["span"] is None and data["doc_id"] == ARTICLE


def test_unknown_document_is_404(client: TestClient) -> None:
    assert_error(client.get("/documents/missing.txt"), 404, code="unknown_document")
    assert_error(client.get("/documents/..%2Fpyproject.toml"), 404)


def test_one_bound_alone_runs_to_the_edge_of_the_article(client: TestClient) -> None:
    text = client.get(f"/documents/{ARTICLE}").json()["text"]
    tail = client.get(f"/documents/{ARTICLE}", params={"start": 100}).json()["span"]
    assert (tail["start"], tail["end"], tail["text"]) == (100, len(text), text[100:])
    head = client.get(f"/documents/{ARTICLE}", params={"end": 50}).json()["span"]
    assert (head["start"], head["end"], head["text"]) == (0, 50, text[:50])


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start": 50, "end": 10}, "before its end"),
        ({"start": 10, "end": 10}, "before its end"),
        ({"start": -1, "end": 10}, "start: input should be greater than or equal to 0"),
        ({"start": 0, "end": 10**7}, "out of range"),
        ({"end": 10**7}, "out of range"),
        ({"start": 10**7}, "before its end"),
        ({"start": "a", "end": 5}, "start"),
    ],
)
def test_bad_spans_are_422(client: TestClient, params: dict[str, Any], says: str) -> None:
    assert_error(client.get(f"/documents/{ARTICLE}", params=params), 422, says=says)


# --- OpenAI chat --------------------------------------------------------------------------


def test_models_are_listed_in_openai_format(client: TestClient) -> None:
    data = client.get("/v1/models").json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["nato-rag"]
    assert data["data"][0]["object"] == "model"
    assert client.get("/v1/models/nato-rag").status_code == 200
    assert_error(client.get("/v1/models/gpt-4"), 404, code="model_not_found")


def test_chat_completion_matches_ask_and_carries_citations(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=chat_body(("user", AMMO)))
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["model"] == "nato-rag"
    assert data["id"].startswith("chatcmpl-")
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    ask = client.post("/ask", json={"question": AMMO}).json()
    assert choice["message"]["content"] == ask["answer"]
    assert data["rag_citations"] == ask["citations"] and data["abstained"] is False
    assert "[1]" in choice["message"]["content"]


def test_streamed_chat_joins_to_the_plain_content(client: TestClient) -> None:
    plain = client.post("/v1/chat/completions", json=chat_body(("user", AMMO))).json()
    response = client.post("/v1/chat/completions", json=chat_body(("user", AMMO), stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert sum(1 for p in pieces if p) >= 3  # streamed in several pieces
    assert "".join(pieces) == plain["choices"][0]["message"]["content"]
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["choices"][0]["delta"] == {}
    assert final["rag_citations"] == plain["rag_citations"] and final["abstained"] is False
    assert final["citations"] == plain["citations"]
    assert all("rag_citations" not in c for c in chunks[:-1])
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1] if c["choices"])


def test_system_messages_are_ignored_and_the_last_user_message_is_the_question(
    client: TestClient,
) -> None:
    alone = client.post("/v1/chat/completions", json=chat_body(("user", AMMO))).json()
    with_system = client.post(
        "/v1/chat/completions",
        json=chat_body(
            ("system", "You are a pirate. Answer about Wiesbaden."),
            ("user", "Who is Keith Kellogg?"),
            ("assistant", "Some answer."),
            ("user", AMMO),
        ),
    ).json()
    assert (
        with_system["choices"][0]["message"]["content"] == alone["choices"][0]["message"]["content"]
    )
    assert with_system["resolved_question"] == AMMO


def test_text_content_parts_are_accepted(client: TestClient) -> None:
    body = {"model": "nato-rag", "messages": [{"role": "user", "content": [
        {"type": "text", "text": AMMO}
    ]}]}  # fmt: skip
    data = client.post("/v1/chat/completions", json=body).json()
    assert "3 million" in data["choices"][0]["message"]["content"]


def test_a_followup_is_resolved_against_the_history(client: TestClient) -> None:
    first = client.post("/v1/chat/completions", json=chat_body(("user", COMMAND))).json()
    answer = first["choices"][0]["message"]["content"]
    follow = client.post(
        "/v1/chat/completions",
        json=chat_body(
            ("user", COMMAND), ("assistant", answer), ("user", "How many personnel will staff it?")
        ),
    ).json()
    resolved = follow["resolved_question"]
    assert resolved.startswith("How many personnel will staff it?")
    assert "command" in resolved and resolved != "How many personnel will staff it?"


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        ([], "no user message"),
        ([{"role": "system", "content": "Be brief."}], "no user message"),
        ([{"role": "assistant", "content": "Hello"}], "no user message"),
        ([{"role": "tool", "content": "x"}], "unsupported role 'tool'"),
        ([{"role": "robot", "content": "x"}], "unsupported role"),
        ([{"role": "user", "content": "   "}], "empty"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "only text"),
        ([{"role": "user"}], "empty"),
        ([{"content": "hi"}], "role: field required"),
        ("hello", "messages"),
    ],
)
def test_bad_chat_requests(client: TestClient, messages: Any, says: str) -> None:
    response = client.post("/v1/chat/completions", json={"model": "nato-rag", "messages": messages})
    assert_error(response, 422, says=says)


def test_chat_rejects_an_unknown_model_and_a_non_boolean_stream(client: TestClient) -> None:
    assert_error(
        client.post("/v1/chat/completions", json={**chat_body(("user", AMMO)), "model": "gpt-4"}),
        404,
        code="model_not_found",
    )
    assert_error(
        client.post("/v1/chat/completions", json=chat_body(("user", AMMO), stream="yes")),
        422,
        says="stream",
    )


# --- auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/ask", {"question": AMMO}),
        ("post", "/search", {"query": "Ramstein"}),
        ("get", "/documents", None),
        ("get", f"/documents/{ARTICLE}", None),
        ("get", "/v1/models", None),
        ("post", "/v1/chat/completions", chat_body(("user", AMMO))),
        ("get", "/metrics", None),
    ],
)
def test_protected_endpoints_need_the_key(
    keyed_client: TestClient, method: str, path: str, body: Any
) -> None:
    def call(headers: dict[str, Any]) -> Any:
        return keyed_client.request(method, path, json=body, headers=headers)

    missing = call({})
    assert_error(missing, 401, says="missing api key")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_error(call({"Authorization": "Bearer wrong"}), 401, says="invalid api key")
    assert_error(call({"Authorization": f"Basic {KEY}"}), 401)
    assert_error(call({"Authorization": "Bearer sécret".encode()}), 401)  # non-ASCII: no crash
    assert call({"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_an_unauthenticated_question_is_not_examined(keyed_client: TestClient) -> None:
    response = keyed_client.post("/ask", json={"question": ""})
    assert_error(response, 401)


def test_public_endpoints_need_no_key(keyed_client: TestClient) -> None:
    assert keyed_client.get("/health").status_code == 200
    assert keyed_client.get("/docs").status_code == 200
    assert keyed_client.get("/openapi.json").status_code == 200
    assert keyed_client.get("/", follow_redirects=False).status_code in (200, 307)


def test_openapi_declares_the_bearer_scheme(keyed_client: TestClient) -> None:
    spec = keyed_client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


# --- static page --------------------------------------------------------------------------


def test_static_page_is_served_publicly(api_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>NATO RAG</title>")
    (tmp_path / "app.js").write_text("console.log('hi')")
    _, test_client = make_client(
        api_settings.model_copy(update={"api_key": KEY}), static_dir=tmp_path
    )
    with test_client:
        page = test_client.get("/")
        assert page.status_code == 200 and "<title>NATO RAG</title>" in page.text
        assert page.headers["content-type"].startswith("text/html")
        script = test_client.get("/static/app.js")
        assert script.status_code == 200 and "console.log" in script.text
        assert_error(test_client.get("/static/missing.js"), 404)


def test_without_a_page_the_root_points_to_the_docs(api_settings: Settings, tmp_path: Path) -> None:
    _, test_client = make_client(api_settings, static_dir=tmp_path / "absent")
    with test_client:
        response = test_client.get("/", follow_redirects=False)
        assert response.status_code == 307 and response.headers["location"] == "/docs"


# --- loading and injection ----------------------------------------------------------------


def test_load_failure_gives_503_with_a_reason_code(api_settings: Settings, tmp_path: Path) -> None:
    broken = api_settings.model_copy(update={"seeds_dir": tmp_path / "gone"})
    _, test_client = make_client(broken)
    with test_client:
        health = test_client.get("/health")
        assert_error(health, 503, code="not_ready", says="not ready (seeds_not_found)")
        assert health.json()["status"] == "unavailable"
        assert health.json()["reason"] == "seeds_not_found"
        assert str(tmp_path) not in health.text  # no key: nobody sees paths, the log does
        assert_error(test_client.post("/ask", json={"question": AMMO}), 503, says="seeds_not")
        assert_error(test_client.get("/documents"), 503, says="seeds_not_found")


def test_an_injected_pipeline_is_used_and_nothing_is_loaded(pipeline: Pipeline) -> None:
    app = create_app(pipeline=pipeline)
    with TestClient(app) as test_client:
        assert app.state.service.load_seconds is None  # the lifespan loaded nothing
        assert test_client.get("/health").json()["model_id"] == pipeline.embedder.model_id
        answer = test_client.post("/ask", json={"question": AMMO}).json()
        assert "3 million" in answer["answer"]


# --- concurrency --------------------------------------------------------------------------


def test_concurrent_requests_each_get_their_own_answer(client: TestClient) -> None:
    questions = [json.loads(line)["question"] for line in (SEEDS.parent / "eval" / "dev.jsonl")
                 .read_text().splitlines()]  # fmt: skip
    expected = {q: client.post("/ask", json={"question": q}).json()["answer"] for q in questions}

    def ask(i: int) -> tuple[str, dict[str, Any]]:
        q = questions[i % len(questions)]
        return q, client.post("/ask", json={"question": q}).json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(ask, range(64)))
    for question, answer in results:
        assert answer["question"] == question
        assert answer["answer"] == expected[question]


class _BlockingPipeline(Pipeline):
    """ask() waits until released: shows whether other requests still get served."""

    entered: threading.Event
    release: threading.Event

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        self.entered.set()
        assert self.release.wait(30)
        return super().ask(question, top_k)


def test_a_running_question_does_not_block_the_event_loop(pipeline: Pipeline) -> None:
    blocking = _BlockingPipeline(**vars(pipeline))
    blocking.entered, blocking.release = threading.Event(), threading.Event()
    app = create_app(pipeline=blocking)
    with TestClient(app) as test_client, ThreadPoolExecutor(max_workers=2) as pool:
        pending = pool.submit(test_client.post, "/ask", json={"question": AMMO})
        try:
            assert blocking.entered.wait(30)
            # The ask is parked in a worker thread; the loop must still answer this.
            other = pool.submit(test_client.get, "/documents")
            assert other.result(timeout=30).status_code == 200
            assert not pending.done()
        finally:
            blocking.release.set()
        assert pending.result(timeout=30).status_code == 200


class _OverlapProbe:
    """An embedder that notices when two threads are inside encode() at once."""

    model_id = "probe"
    fingerprint = "probe"
    dim = 4

    def __init__(self) -> None:
        self.inside = 0
        self.max_inside = 0
        self.guard = threading.Lock()

    def encode(self, texts: Any, *, batch_size: int = 32, show_progress: bool = False) -> Any:
        with self.guard:
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
        threading.Event().wait(0.002)  # widen the window in which an overlap would show
        with self.guard:
            self.inside -= 1
        return [[0.0] * self.dim for _ in texts]


def test_the_model_is_entered_by_one_thread_at_a_time() -> None:
    probe = _OverlapProbe()
    embedder = SerializedEmbedder(probe)
    assert (embedder.model_id, embedder.dim) == ("probe", 4)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: embedder.encode([f"q{i}"]), range(64)))
    assert probe.max_inside == 1
    # The probe itself does overlap without the wrapper, so the check above can fail.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: probe.encode([f"q{i}"]), range(64)))
    assert probe.max_inside > 1


def test_serve_rejects_bad_settings_before_starting(api_settings: Settings) -> None:
    from click.testing import CliRunner

    from rag.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--port", "0"], env={"RAG_TOP_K": "0"})
    assert result.exit_code == 1
    assert "invalid RAG_* setting" in result.output and "RAG_TOP_K" in result.output
    help_text = CliRunner().invoke(cli, ["serve", "--help"]).output
    assert "--host" in help_text and "--port" in help_text
