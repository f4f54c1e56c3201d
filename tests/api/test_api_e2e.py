"""End to end: `rag serve` in a subprocess on a free loopback port, driven by the official
`openai` client and by httpx. The fake-embedder server is fast; the real model is `slow`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from api.app import create_app
from rag.pipeline import Pipeline
from tests.conftest import DEV_SET, SEEDS
from tests.devserver import running_server

pytestmark = pytest.mark.e2e

KEY = "e2e-key"
COMMAND = "What new command is NATO setting up?"
STAFF = "How many personnel will staff it?"
AMMO = "How many rounds of ammunition does Russia produce a year?"


def server_env(tmp: Path, backend: str) -> dict[str, str]:
    return {
        "RAG_SEEDS_DIR": str(SEEDS),
        "RAG_INDEX_DIR": str(tmp / "index"),
        "RAG_EMBED_BACKEND": backend,
        "RAG_API_KEY": KEY,
    }


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("fake-server")
    with running_server(tmp / "server.log", server_env(tmp, "fake"), timeout=180) as base:
        yield base


def client_for(base: str, key: str = KEY) -> OpenAI:
    return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=60)


def stream_chat(client: OpenAI, messages: list[Any]) -> tuple[str, list[Any]]:
    stream = client.chat.completions.create(model="nato-rag", messages=messages, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


def test_openai_client_plain_and_streaming_agree(fake_server: str) -> None:
    client = client_for(fake_server)
    messages: list[Any] = [{"role": "user", "content": AMMO}]
    plain = client.chat.completions.create(model="nato-rag", messages=messages)
    content = plain.choices[0].message.content or ""
    assert "3 million" in content and "[1]" in content
    assert plain.choices[0].finish_reason == "stop"
    extra = plain.model_extra or {}
    assert extra["rag_citations"][0]["marker"] == 1 and extra["abstained"] is False

    text, chunks = stream_chat(client, messages)
    assert text == content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 3
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    final_extra = final.model_dump()
    assert final_extra["rag_citations"] == extra["rag_citations"]
    assert final_extra["abstained"] is False
    quote = final_extra["rag_citations"][0]
    text_of_doc = (SEEDS / quote["doc_id"]).read_text(encoding="utf-8")
    assert text_of_doc[quote["start"] : quote["end"]] == quote["quote"]


def test_openai_client_lists_the_model_and_reports_errors(fake_server: str) -> None:
    client = client_for(fake_server)
    assert [m.id for m in client.models.list()] == ["nato-rag"]
    with pytest.raises(openai.AuthenticationError):
        client_for(fake_server, key="wrong").models.list()
    with pytest.raises(openai.UnprocessableEntityError) as bad:
        client.chat.completions.create(
            model="nato-rag", messages=[{"role": "system", "content": "Be brief."}]
        )
    assert "no user message" in str(bad.value)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "x"}])


def test_httpx_ask_search_documents_and_public_health(fake_server: str) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=fake_server, timeout=30) as http:
        assert http.get("/health").json()["status"] == "ok"
        assert http.post("/ask", json={"question": AMMO}).status_code == 401
        answer = http.post("/ask", json={"question": AMMO}, headers=auth).json()
        assert "3 million" in answer["answer"]
        hits = http.post("/search", json={"query": "Ramstein"}, headers=auth).json()
        assert hits["passages"][0]["rank"] == 1
        assert len(http.get("/documents", headers=auth).json()) == 5
        metrics = http.get("/metrics", headers=auth).text
        assert 'handler="/ask"' in metrics


def test_concurrent_http_requests_all_succeed_with_their_own_answers(fake_server: str) -> None:
    questions = [json.loads(line)["question"] for line in DEV_SET.read_text().splitlines()]
    auth = {"Authorization": f"Bearer {KEY}"}

    async def run() -> tuple[dict[str, str], list[tuple[str, httpx.Response]]]:
        async with httpx.AsyncClient(base_url=fake_server, headers=auth, timeout=60) as http:
            expected = {}
            for q in questions:
                expected[q] = (await http.post("/ask", json={"question": q})).json()["answer"]
            batch = [questions[i % len(questions)] for i in range(48)]
            responses = await asyncio.gather(
                *(http.post("/ask", json={"question": q}) for q in batch)
            )
            return expected, list(zip(batch, responses, strict=True))

    expected, results = asyncio.run(run())
    for question, response in results:
        assert response.status_code == 200
        assert response.json()["question"] == question
        assert response.json()["answer"] == expected[question]


# --- real model (slow) --------------------------------------------------------------------


@pytest.mark.slow
def test_followup_through_the_real_server_and_the_openai_client(tmp_path: Path) -> None:
    with running_server(tmp_path / "server.log", server_env(tmp_path, "torch")) as base:
        client = client_for(base)
        first = client.chat.completions.create(
            model="nato-rag", messages=[{"role": "user", "content": COMMAND}]
        )
        first_text = first.choices[0].message.content or ""
        assert "Wiesbaden" in first_text
        messages: list[Any] = [
            {"role": "system", "content": "Answer from the articles."},
            {"role": "user", "content": COMMAND},
            {"role": "assistant", "content": first_text},
            {"role": "user", "content": STAFF},
        ]
        follow = client.chat.completions.create(model="nato-rag", messages=messages)
        follow_text = follow.choices[0].message.content or ""
        assert "700" in follow_text
        streamed, chunks = stream_chat(client, messages)
        assert streamed == follow_text
        citations = chunks[-1].model_dump()["rag_citations"]
        assert any("700" in c["quote"] for c in citations)


@pytest.mark.slow
def test_followups_with_the_real_pipeline_injected(real_pipeline: Pipeline) -> None:
    app = create_app(pipeline=real_pipeline)

    def chat(*turns: str) -> dict[str, Any]:
        roles = ["user", "assistant"] * len(turns)
        messages = [{"role": r, "content": t} for r, t in zip(roles, turns, strict=False)]
        body = {"model": "nato-rag", "messages": messages}
        response = http.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def content(data: dict[str, Any]) -> str:
        return str(data["choices"][0]["message"]["content"])

    with TestClient(app) as http:
        command = content(chat(COMMAND))
        staff = chat(COMMAND, command, STAFF)
        assert "700" in content(staff)
        quote = staff["rag_citations"][0]["quote"]
        assert "NATO Security Assistance and Training for Ukraine" in quote
        # A question that only the history makes answerable.
        assert "Wiesbaden" not in content(chat("Where will it be based?"))
        assert "Wiesbaden" in content(chat(COMMAND, command, "Where will it be based?"))
        ammo = content(chat(AMMO))
        assert "NATO" in content(chat(AMMO, ammo, "And NATO?"))
