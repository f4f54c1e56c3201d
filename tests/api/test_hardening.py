"""Regression tests for what fuzzing, load and fault tests found (issue 14), in process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from rag.embed import FakeEmbedder
from rag.settings import Settings
from rag.store import build_index
from tests.api.test_api import AMMO, KEY, assert_error, chat_body
from tests.conftest import SEEDS

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        seeds_dir=SEEDS, index_dir=tmp_path_factory.mktemp("index"), embed_backend="fake"
    )


@pytest.fixture(scope="module")
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings=api_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def keyed_client(api_settings: Settings) -> Iterator[TestClient]:
    keyed = api_settings.model_copy(update={"api_key": KEY})
    with TestClient(create_app(settings=keyed)) as test_client:
        yield test_client


# --- 1. invalid text -----------------------------------------------------------------------

SURROGATE = '"Where is \\ud800 the command?"'  # valid JSON, not valid Unicode text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/ask", f'{{"question": {SURROGATE}}}'),
        ("/search", f'{{"query": {SURROGATE}}}'),
        ("/v1/chat/completions", f'{{"messages": [{{"role": "user", "content": {SURROGATE}}}]}}'),
        (
            "/v1/chat/completions",
            f'{{"stream": true, "messages": [{{"role": "user", "content": {SURROGATE}}}]}}',
        ),
        (  # in an earlier turn, as a content part
            "/v1/chat/completions",
            '{"messages": [{"role": "user", "content": [{"type": "text", "text": '
            f'{SURROGATE}}}]}}, {{"role": "user", "content": "Who?"}}]}}',
        ),
    ],
)
def test_a_lone_surrogate_is_a_422_not_a_500(client: TestClient, path: str, body: str) -> None:
    response = client.post(path, content=body.encode(), headers=JSON)
    assert_error(response, 422, says="not valid text")
    assert "U+D800" in response.json()["error"]["message"]


# --- 3. schema and behaviour agree ---------------------------------------------------------


def test_an_integral_float_top_k_is_accepted_as_the_schema_promises(client: TestClient) -> None:
    response = client.post("/ask", json={"question": AMMO, "top_k": 3.0})
    assert response.status_code == 200 and len(response.json()["passages"]) == 3
    assert_error(client.post("/ask", json={"question": AMMO, "top_k": 3.5}), 422, says="top_k")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"question": "\xff"}', "not UTF-8"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),  # deeper than the recursion limit
        (b'{"question": "x", "y": ' + b'{"z": ' * 3_000 + b"1" + b"}" * 3_001, "nested too deeply"),
    ],
)
def test_unparsable_bodies_are_invalid_json(client: TestClient, body: bytes, says: str) -> None:
    for path in ("/ask", "/search", "/v1/chat/completions"):
        response = client.post(path, content=body, headers=JSON)
        assert_error(response, 400, code="invalid_json", says=says)


def test_chat_history_parts_must_be_text(client: TestClient) -> None:
    body: dict[str, Any] = chat_body(("user", AMMO))
    body["messages"][0]["content"] = [{"type": "image_url", "image_url": {"url": "x"}}]
    assert_error(client.post("/v1/chat/completions", json=body), 422, says="only text")


# --- 2. public /health -----------------------------------------------------------------------


def test_public_health_says_ok_and_the_key_holder_gets_the_details(
    keyed_client: TestClient,
) -> None:
    public = keyed_client.get("/health")
    assert public.status_code == 200 and public.json() == {"status": "ok"}
    wrong = keyed_client.get("/health", headers={"Authorization": "Bearer nope"})
    assert wrong.json() == {"status": "ok"}
    full = keyed_client.get("/health", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert full["status"] == "ok" and full["documents"] == 5 and full["model_id"]


def test_a_failed_load_shows_paths_only_to_the_key_holder(
    api_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.txt").write_text("Some article text that is long enough.\n")
    index = tmp_path / "index"
    broken = api_settings.model_copy(
        update={"api_key": KEY, "seeds_dir": tmp_path / "seeds", "index_dir": index}
    )
    build_index(broken, FakeEmbedder())
    faiss_file = next(index.glob("build-*/chunks.faiss"))
    faiss_file.write_bytes(b"garbage")  # FAISS's error names its own source file
    with TestClient(create_app(settings=broken)) as test_client:
        public = test_client.get("/health")
        assert public.status_code == 503
        assert str(tmp_path) not in public.text and ".cpp" not in public.text
        assert public.json()["reason"] == "index_corrupted"
        assert_error(public, 503, code="not_ready", says="log says why")
        assert_error(test_client.get("/documents"), 401)  # the key is checked first
        auth = {"Authorization": f"Bearer {KEY}"}
        detailed = test_client.get("/health", headers=auth)
        assert detailed.status_code == 503 and str(index) in detailed.json()["error"]["message"]
        assert str(index) in test_client.get("/documents", headers=auth).text
    assert str(index) in caplog.text  # the operator's log has it all


def test_invalid_settings_are_a_reason_code_without_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAG_TOP_K", "many")
    with TestClient(create_app()) as test_client:
        health = test_client.get("/health")
        assert health.status_code == 503 and health.json()["reason"] == "invalid_settings"
        assert "many" not in health.text


# --- 6. smaller faults -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sécret", "two words", "tab\there", "ключ"])
def test_an_unsendable_api_key_is_refused_at_start_up(key: str) -> None:
    with pytest.raises(ValidationError, match="printable ASCII"):
        Settings(api_key=key)


def test_serve_names_the_bad_key_without_printing_it() -> None:
    from click.testing import CliRunner

    from rag.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--port", "0"], env={"RAG_API_KEY": "sécret"})
    assert result.exit_code == 1 and "RAG_API_KEY must be printable ASCII" in result.output
    assert "sécret" not in result.output


def test_an_upload_aborted_mid_body_is_not_a_5xx_in_the_metrics(keyed_client: TestClient) -> None:
    app = keyed_client.app
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/ask",
        "raw_path": b"/ask",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    messages = iter(
        [
            {"type": "http.request", "body": b'{"question": "Wh', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        pass  # the client is gone

    anyio.run(app, scope, receive, send)
    metrics = keyed_client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    assert 'handler="/ask",method="POST",status="4xx"' in metrics
    assert 'status="5xx"' not in metrics
