"""Regression tests for what fuzzing, load and fault tests found (issue 14), in process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.settings import Settings
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
