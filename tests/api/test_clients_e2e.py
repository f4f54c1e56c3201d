"""End to end: existing clients against a real `rag serve`, reading citations without
custom code: the official `openai` package (Chat Completions plain, iterated stream and the
`.stream()` helper; the Responses API), LangChain's `ChatOpenAI` on both APIs, and the
shapes Open WebUI reads from the raw SSE stream. Fake embedder; the real model is `slow`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI
from openai.types.chat.chat_completion_message import Annotation

from tests.api.test_api_e2e import COMMAND, KEY, STAFF, client_for, server_env
from tests.conftest import SEEDS
from tests.devserver import running_server

pytestmark = pytest.mark.e2e

TWO = "Is NSATU operational yet?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("clients-server")
    with running_server(tmp / "server.log", server_env(tmp, "fake"), timeout=180) as base:
        yield base


def check_annotations(content: str, annotations: list[Annotation] | None, base: str) -> None:
    """Typed url_citations, one per [n], each covering its marker and opening its passage."""
    assert annotations, "expected typed annotations"
    auth = {"Authorization": f"Bearer {KEY}"}
    for n, annotation in enumerate(annotations, start=1):
        assert isinstance(annotation, Annotation) and annotation.type == "url_citation"
        link = annotation.url_citation
        assert content[link.start_index : link.end_index].endswith(f"[{n}]")
        assert link.url.startswith(f"{base}/documents/")
        extra = link.model_extra or {}
        text = (SEEDS / extra["doc_id"]).read_bytes().decode("utf-8")
        assert text[extra["source_start"] : extra["source_end"]] == extra["quote"]
        span = httpx.get(link.url, headers=auth, timeout=30).json()["span"]
        assert span["text"] == extra["quote"]


def test_openai_chat_completions_plain_stream_and_stream_helper(server: str) -> None:
    client = client_for(server)
    messages: list[Any] = [{"role": "user", "content": TWO}]
    plain = client.chat.completions.create(model="nato-rag", messages=messages)
    message = plain.choices[0].message
    check_annotations(message.content or "", message.annotations, server)

    # Iterating the raw stream: the annotations arrive in one delta, before finish_reason.
    chunks = list(client.chat.completions.create(model="nato-rag", messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == message.content
    carrying = [c for c in chunks if c.choices and (c.choices[0].delta.model_extra or {})]
    assert len(carrying) == 1
    streamed = [
        Annotation.model_validate(a)
        for a in carrying[0].choices[0].delta.model_extra["annotations"]
    ]
    assert streamed == message.annotations
    assert chunks[-1].choices[0].finish_reason == "stop"

    # The helper merges deltas into a typed final completion.
    with client.chat.completions.stream(model="nato-rag", messages=messages) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    final_message = final.choices[0].message
    assert final_message.content == message.content
    assert final_message.annotations == message.annotations
    check_annotations(final_message.content or "", final_message.annotations, server)


def test_openai_responses_api_plain_and_streamed(server: str) -> None:
    client = client_for(server)
    response = client.responses.create(model="nato-rag", input=TWO)
    text = response.output[0].content[0]
    assert text.type == "output_text" and response.output_text == text.text
    assert [a.type for a in text.annotations] == ["url_citation", "url_citation"]
    for n, annotation in enumerate(text.annotations, start=1):
        assert text.text[annotation.start_index : annotation.end_index].endswith(f"[{n}]")

    with client.responses.stream(model="nato-rag", input=TWO) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.output_text.annotation.added" in kinds and kinds[-1] == "response.completed"
    assert final.output_text == response.output_text
    assert final.output[0].content[0].annotations == text.annotations


def lc_model(base: str, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=f"{base}/v1", api_key=KEY, model="nato-rag", max_retries=0, timeout=60, **options
    )


def citations_of(message: AIMessage) -> list[dict[str, Any]]:
    blocks = [b for b in message.content_blocks if b["type"] == "text"]
    return [a for b in blocks for a in b.get("annotations", [])]


def test_langchain_chat_openai_on_both_apis(server: str) -> None:
    chat = lc_model(server).invoke(TWO)
    assert "[1]" in chat.text and "[2]" in chat.text

    llm = lc_model(server, use_responses_api=True)
    message = llm.invoke(TWO)
    assert message.text == chat.text
    citations = citations_of(message)
    assert [c["type"] for c in citations] == ["citation", "citation"]
    for n, citation in enumerate(citations, start=1):
        assert message.text[citation["start_index"] : citation["end_index"]].endswith(f"[{n}]")
        assert citation["url"].startswith(f"{server}/documents/")
        assert {"doc_id", "source_start", "source_end", "quote"} <= set(citation["extras"])

    # Streamed, the chunks add up to the same citations.
    total: Any = None
    for piece in llm.stream(TWO):
        total = piece if total is None else total + piece
    assert total.text == message.text
    assert [c["url"] for c in citations_of(total)] == [c["url"] for c in citations]

    # A follow-up with the earlier turn in the history (its content blocks sent back).
    follow = llm.invoke(
        [
            HumanMessage(COMMAND),
            lc_model(server, use_responses_api=True).invoke(COMMAND),
            HumanMessage("Where is it?"),
        ]
    )
    assert follow.response_metadata.get("status") == "completed" and follow.text


def test_raw_sse_has_the_shapes_open_webui_reads(server: str) -> None:
    """Open WebUI forwards chunks with an `event` (source events: source/document/metadata),
    turns `delta.annotations` url_citations into sources, and groups sources by
    `metadata.source`: one id per marker, in marker order, so [n] opens source n."""
    body = {"model": "nato-rag", "stream": True, "messages": [{"role": "user", "content": TWO}]}
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body, headers=auth) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    # What Open WebUI's stream handler collects, in order: sources from events, then from
    # url_citation annotations.
    collected: list[dict[str, Any]] = []
    for chunk in chunks:
        if "event" in chunk:
            assert chunk["choices"] == [] and chunk["event"]["type"] == "source"
            collected.append(chunk["event"]["data"])
        for choice in chunk["choices"]:
            for annotation in choice["delta"].get("annotations", []):
                assert annotation["type"] == "url_citation"
                link = annotation["url_citation"]
                collected.append(
                    {
                        "source": {"name": link["title"], "url": link["url"]},
                        "document": [link["title"]],
                        "metadata": [{"source": link["url"], "name": link["title"]}],
                    }
                )
    order: list[str] = []  # ids as its source panel numbers them
    for source in collected:
        for meta in source["metadata"]:
            if meta["source"] not in order:
                order.append(meta["source"])
    assert len(order) == 2
    events = [c["event"]["data"] for c in chunks if "event" in c]
    for n, (source_id, event) in enumerate(zip(order, events, strict=True), start=1):
        assert event["source"]["id"] == source_id == event["source"]["url"]
        assert event["metadata"][0]["marker"] == n and event["source"]["name"]
        quote = event["document"][0]
        assert quote and quote in (SEEDS / event["metadata"][0]["doc_id"]).read_text("utf-8")
    # Non-streamed: a top-level `sources` list, the same entries.
    plain = httpx.post(
        f"{server}/v1/chat/completions", json={**body, "stream": False}, headers=auth, timeout=60
    ).json()
    assert plain["sources"] == events


# --- real model (slow) --------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_follow_up_through_every_client(tmp_path: Path) -> None:
    with running_server(tmp_path / "server.log", server_env(tmp_path, "onnx")) as base:
        client = client_for(base)
        first = client.chat.completions.create(
            model="nato-rag", messages=[{"role": "user", "content": COMMAND}]
        )
        first_text = first.choices[0].message.content or ""
        assert "Wiesbaden" in first_text
        check_annotations(first_text, first.choices[0].message.annotations, base)
        messages: list[Any] = [
            {"role": "user", "content": COMMAND},
            {"role": "assistant", "content": first_text},
            {"role": "user", "content": STAFF},
        ]
        with client.chat.completions.stream(model="nato-rag", messages=messages) as stream:
            final = stream.get_final_completion().choices[0].message
        assert "700" in (final.content or "")
        check_annotations(final.content or "", final.annotations, base)
        assert any(
            "700" in (a.url_citation.model_extra or {})["quote"] for a in final.annotations or []
        )

        llm = lc_model(base, use_responses_api=True)
        ai = llm.invoke(COMMAND)
        assert "Wiesbaden" in ai.text and citations_of(ai)
        follow = llm.invoke([HumanMessage(COMMAND), ai, HumanMessage(STAFF)])
        assert "700" in follow.text
        assert any("700" in c["extras"]["quote"] for c in citations_of(follow))
