"""`rag eval --against URL` against a stub FastAPI service on a loopback port."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse

from rag.cli import cli
from rag.eval import EvalItem, HttpSystem, evaluate, load_dataset
from rag.settings import Settings
from tests.conftest import DEV_SET

DOC = "003_8a617f4c2dcdd12b.txt"
QUESTIONS = [
    # right answer, citation on the evidence
    {"id": "a1", "question": "Where is the command?", "answerable": True,
     "key_facts": [["Wiesbaden"]], "evidence": [{"doc": DOC, "start": 762, "end": 810}],
     "type": "factoid"},
    # the service fails on this one
    {"id": "a2", "question": "What makes the server fail?", "answerable": True,
     "key_facts": [["700"]], "evidence": [{"doc": DOC, "start": 988, "end": 1049}],
     "type": "factoid"},
    # abstains although the articles answer it
    {"id": "a3", "question": "How many staff?", "answerable": True,
     "key_facts": [["700"]], "evidence": [{"doc": DOC, "start": 988, "end": 1049}],
     "type": "multi-hop"},
    # rightly abstains
    {"id": "u1", "question": "What is the population of Wiesbaden?", "answerable": False,
     "type": "unanswerable"},
    # the reply is not JSON
    {"id": "a4", "question": "Garbage please?", "answerable": True,
     "key_facts": [["x"]], "evidence": [{"doc": DOC, "start": 0, "end": 5}], "type": "factoid"},
]  # fmt: skip


def passage(start: int, end: int) -> dict[str, Any]:
    return {"doc_id": DOC, "start": start, "end": end, "text": "t", "score": 0.5}


def answer_object(question: str, text: str, abstained: bool, cited: list[int]) -> dict[str, Any]:
    citations = [
        {"marker": 1, "doc_id": DOC, "title": "T", "date": None, "start": cited[0],
         "end": cited[1], "quote": "q", "score": 1.0}
    ] if cited else []  # fmt: skip
    return {
        "question": question,
        "answer": text,
        "abstained": abstained,
        "citations": citations,
        "passages": [passage(0, 100)],  # /ask passages: off the evidence on purpose
        "timings_ms": {"retrieve": 1.0, "analyze": 0.5, "answer": 1.0, "total": 2.5},
    }


def make_app(with_search: bool, seen: dict[str, list[Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/ask", response_model=None)
    async def ask(request: Request) -> Any:
        body = await request.json()
        seen["auth"].append(request.headers.get("authorization"))
        seen["ask"].append(body)
        q = body["question"]
        if "fail" in q:
            raise HTTPException(500, "boom")
        if "Garbage" in q:
            return PlainTextResponse("<html>not json</html>")
        if q.startswith("Where"):
            return answer_object(q, "In Wiesbaden, Germany. [1]", False, [780, 830])
        return answer_object(q, "The articles don't say.", True, [])

    if with_search:

        @app.post("/search")
        async def search(request: Request) -> dict[str, Any]:
            body = await request.json()
            seen["search"].append(body)
            # Shaped like api/schemas.SearchResponse: an object holding ranked passages.
            hits = [passage(2000 + i, 2100 + i) for i in range(9)] + [passage(700, 800)]
            return {"query": body["query"], "passages": [h | {"rank": 0} for h in hits]}

    return app


@contextmanager
def stub_service(with_search: bool) -> Iterator[tuple[str, dict[str, list[Any]], bool]]:
    """The stub app under uvicorn on a free loopback port, in a background thread."""
    seen: dict[str, list[Any]] = {"auth": [], "ask": [], "search": []}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(with_search, seen), log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                pytest.fail("stub server did not start")
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{port}", seen, with_search
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(params=[True, False], ids=["with-search", "ask-only"])
def service(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, list[Any]], bool]]:
    with stub_service(request.param) as running:
        yield running


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "http.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    return path


def test_http_system_scores_answers_and_survives_failures(
    service: tuple[str, dict[str, list[Any]], bool], dataset: Path
) -> None:
    url, seen, with_search = service
    system = HttpSystem(url + "/", api_key="s3cret")
    report = evaluate(system, load_dataset(dataset))
    system.close()
    by_id = {q.id: q for q in report.questions}

    assert report.n_failed == 2
    assert by_id["a2"].failed and "HTTP 500" in (by_id["a2"].error or "")
    assert by_id["a4"].failed and "not JSON" in (by_id["a4"].error or "")
    assert by_id["a1"].correct and by_id["a1"].citation_hit
    assert by_id["a3"].abstained and not by_id["a3"].correct
    assert by_id["u1"].correct
    assert report.answer_accuracy == pytest.approx(1 / 4)
    assert report.citation_recall == pytest.approx(1 / 4)
    assert report.false_abstention == pytest.approx(1 / 4)
    assert report.abstention_recall == 1.0
    assert set(seen["auth"]) == {"Bearer s3cret"}
    assert all(body.keys() == {"question"} for body in seen["ask"])
    if with_search:  # the ranking comes from /search with ten passages
        assert {b["top_k"] for b in seen["search"]} == {10}
        assert by_id["a1"].first_relevant_rank == 10
        assert report.mrr == pytest.approx(0.1 / 4)
    else:  # no /search: the /ask passages rank, and /search is not retried
        assert by_id["a1"].first_relevant_rank is None
        assert any("no /search" in note for note in system.notes)


def test_cli_against_a_service(
    service: tuple[str, dict[str, list[Any]], bool], dataset: Path, tmp_path: Path
) -> None:
    url, seen, _ = service
    result = CliRunner().invoke(
        cli,
        ["eval", "--dataset", str(dataset), "--against", url, "--json", "--top-k", "3"],
        env={"RAG_API_KEY": "k3y"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["system"] == "service" and data["target"] == url
    assert data["n_failed"] == 2 and data["answer_accuracy"] == pytest.approx(1 / 4)
    assert "2 of 5 requests failed" in result.stderr
    assert set(seen["auth"]) == {"Bearer k3y"}
    assert {b["top_k"] for b in seen["ask"]} == {3}

    shown = CliRunner().invoke(
        cli, ["eval", "--dataset", str(dataset), "--against", url], catch_exceptions=False
    )
    assert "request failed: POST /ask: HTTP 500" in shown.stdout


def test_unreachable_service_fails_every_question_without_a_traceback(dataset: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]  # bound but not listening: connections are refused
    try:
        result = CliRunner().invoke(
            cli,
            ["eval", "--dataset", str(dataset), "--against", f"http://127.0.0.1:{port}", "--json"],
            catch_exceptions=False,
        )
    finally:
        sock.close()
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["n_failed"] == 5 and data["answer_accuracy"] == 0.0
    assert "ConnectError" in data["questions"][0]["error"]
    assert "every request failed" in result.stderr and "Traceback" not in result.output


def test_search_reply_as_a_plain_list_and_unreadable_replies() -> None:
    replies = iter(
        [
            [passage(700, 800)],  # /search may answer a bare list of passages
            {"passages": [{"doc_id": DOC}]},  # ... or something unreadable: /ask passages rank
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ask":
            q = json.loads(request.content)["question"]
            return httpx.Response(200, json=answer_object(q, "Wiesbaden [1]", False, [780, 790]))
        return httpx.Response(200, json=next(replies))

    client = httpx.Client(transport=httpx.MockTransport(handler))
    system = HttpSystem("http://svc", client=client, api_key="")
    item = EvalItem.model_validate(QUESTIONS[0])
    assert [p.start for p in system.run(item).ranking] == [700]
    assert [p.start for p in system.run(item).ranking] == [0]
    assert "unreadable /search reply" in system.notes[0]
    assert "authorization" not in client.headers  # an empty key sends no header


def test_against_with_compare_puts_the_service_beside_the_library_systems(
    settings: Settings,
) -> None:
    env = {
        "RAG_SEEDS_DIR": str(settings.seeds_dir),
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_EMBED_BACKEND": "fake",
    }
    with stub_service(with_search=True) as (url, _, _):
        args = ["eval", "--dataset", str(DEV_SET), "--against", url, "--compare", "--json"]
        result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["system"] == "service"
    assert list(data["baselines"]) == ["bm25", "dense", "hybrid-top", "full", "langchain"]
