"""Regression tests for what fuzzing, load and fault tests found (issue 14), in process."""

from __future__ import annotations

import re
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
    (tmp_path / "seeds" / "a.txt").write_text(
        "NATO will open a new command in Wiesbaden to coordinate military aid to Ukraine. "
        "It will also oversee the training of Ukrainian troops, officials said on Monday.\n"
    )
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


# --- 3. the schema says what the server does (Schemathesis: test_schemathesis.py) -----------


def test_bearer_security_is_declared_only_with_a_key(
    client: TestClient, keyed_client: TestClient
) -> None:
    open_spec = client.get("/openapi.json").json()
    assert "securitySchemes" not in open_spec.get("components", {})
    for item in open_spec["paths"].values():
        for operation in item.values():
            assert "security" not in operation and "401" not in operation["responses"]
    keyed_spec = keyed_client.get("/openapi.json").json()
    assert keyed_spec["paths"]["/ask"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "401" in keyed_spec["paths"]["/ask"]["post"]["responses"]
    assert {} in keyed_spec["paths"]["/health"]["get"]["security"]  # the key is optional


def test_edge_errors_and_media_types_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/ask", "/search", "/v1/chat/completions"):
        responses = paths[path]["post"]["responses"]
        assert {"400", "408", "413", "422"} <= set(responses)
    assert "404" in paths["/documents/{doc_id}"]["get"]["responses"]
    assert "404" in paths["/v1/models/{model_id}"]["get"]["responses"]
    metrics = paths["/metrics"]["get"]["responses"]
    assert list(metrics["200"]["content"]) == ["text/plain"]
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    params = {p["name"]: p["schema"] for p in paths["/documents/{doc_id}"]["get"]["parameters"]}
    assert params["start"]["anyOf"][0]["minimum"] == 0


def test_the_question_schema_follows_the_settings(api_settings: Settings) -> None:
    app = create_app(settings=api_settings.model_copy(update={"max_question_chars": 99}))
    question = app.openapi()["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["maxLength"] == 99 and question["minLength"] == 1


def test_the_not_blank_pattern_is_pythons_whitespace() -> None:
    import re

    from api.openapi import NOT_BLANK

    blank = {c for c in map(chr, range(0x110000)) if not re.search(NOT_BLANK, c)}
    assert blank == {c for c in map(chr, range(0x110000)) if c.isspace()}


def test_the_schema_roles_are_the_routes_roles() -> None:
    from api.conversation import ROLES
    from api.schemas import CHAT_ROLES

    assert tuple(CHAT_ROLES) == tuple(ROLES)


def test_the_question_limit_counts_the_question_as_sent(client: TestClient) -> None:
    padded = " " * 1990 + "Who is Keith Kellogg?"  # short once stripped, long as sent
    assert_error(client.post("/ask", json={"question": padded}), 422, says="limit is 2000")


# --- 5. browser hardening --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/static/app.js", "/static/style.css", "/docs", "/health", "/nope"]
)
def test_every_response_carries_the_browser_hardening_headers(
    client: TestClient, path: str
) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


def test_docs_work_offline_from_local_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    scripts = re.findall(r'src="([^"]+)"', page.text)
    styles = re.findall(r'href="([^"]+)"', page.text)
    assert scripts and all(s.startswith("/") for s in scripts + styles)
    for asset in scripts + styles:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 100, asset
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
    assert client.get("/redoc").status_code == 404  # not served: see api/docs.py


def test_allowed_hosts_refuse_other_host_headers(api_settings: Settings) -> None:
    limited = api_settings.model_copy(update={"allowed_hosts": ["rag.example.org", "*.lan"]})
    with TestClient(create_app(settings=limited), base_url="http://rag.example.org") as c:
        assert c.get("/health").status_code == 200
        assert c.get("/health", headers={"host": "box.lan:8000"}).status_code == 200
        assert_error(c.get("/health", headers={"host": "evil.test"}), 400, code="invalid_host")


def test_allowed_hosts_setting_reads_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_ALLOWED_HOSTS", "rag.example.org, *.lan")
    assert Settings().allowed_hosts == ["rag.example.org", "*.lan"]
    monkeypatch.setenv("RAG_ALLOWED_HOSTS", '["a.org"]')
    assert Settings().allowed_hosts == ["a.org"]
    assert Settings(allowed_hosts=["*"]).allowed_hosts == ["*"]
