"""Citations the standard way, through FastAPI's TestClient with the fake embedder: OpenAI
`url_citation` annotations (Chat Completions and the Responses API), Open WebUI sources and
event chunks, Perplexity-style `citations` URLs (fast tier)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from api.app import create_app
from rag.settings import Settings
from tests.api.test_api import KEY, assert_error, chat_body
from tests.conftest import SEEDS

# Two dated accounts, two citations: "On July 1, 2024: … [1] In autumn 2024: … [2]".
TWO = "Is NSATU operational yet?"
AMMO = "How many rounds of ammunition does Russia produce a year?"
UNKNOWN = "What is the population of Wiesbaden?"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        seeds_dir=SEEDS, index_dir=tmp_path_factory.mktemp("index"), embed_backend="fake"
    )
    with TestClient(create_app(settings=settings)) as test_client:
        yield test_client


def chat(client: TestClient, question: str, **extra: Any) -> Any:
    response = client.post("/v1/chat/completions", json=chat_body(("user", question), **extra))
    assert response.status_code == 200, response.text
    return response


def sse_data(body: str) -> list[Any]:
    out = []
    for block in body.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append(json.loads(line.removeprefix("data: ")))
    return out


def assert_link_opens_the_passage(client: TestClient, link: dict[str, Any]) -> None:
    url = urlsplit(link["url"])
    assert url.scheme == "http" and url.netloc == "testserver"  # absolute, from the request
    detail = client.get(f"{url.path}?{url.query}").json()
    assert detail["doc_id"] == link["doc_id"]
    assert detail["span"]["text"] == link["quote"]
    text = (SEEDS / link["doc_id"]).read_bytes().decode("utf-8")
    assert text[link["source_start"] : link["source_end"]] == link["quote"]


def test_chat_annotations_cover_each_cited_sentence_and_link_to_its_passage(
    client: TestClient,
) -> None:
    data = chat(client, TWO).json()
    message = data["choices"][0]["message"]
    content, annotations = message["content"], message["annotations"]
    assert [a["type"] for a in annotations] == ["url_citation", "url_citation"]
    links = [a["url_citation"] for a in annotations]
    assert content[links[0]["start_index"] : links[0]["end_index"]].startswith("On July 1, 2024")
    for n, link in enumerate(links, start=1):
        cited = content[link["start_index"] : link["end_index"]]
        assert cited.endswith(f"[{n}]") and link["marker"] == n
        assert link["title"] == data["rag_citations"][n - 1]["title"]
        assert_link_opens_the_passage(client, link)
    assert links[0]["end_index"] < links[1]["start_index"]
    assert len({link["url"] for link in links}) == 2
    # Perplexity's convention: citations[n-1] is the URL of [n].
    assert data["citations"] == [link["url"] for link in links]
    # The official client's own types read them.
    typed = ChatCompletion.model_validate(data).choices[0].message.annotations or []
    assert [a.url_citation.url for a in typed] == data["citations"]


def test_open_webui_sources_are_numbered_like_the_markers(client: TestClient) -> None:
    data = chat(client, TWO).json()
    sources = data["sources"]
    assert [s["metadata"][0]["marker"] for s in sources] == [1, 2]
    for source, citation, url in zip(
        sources, data["rag_citations"], data["citations"], strict=True
    ):
        assert source["source"] == {"id": url, "name": citation["title"], "url": url}
        assert source["document"] == [citation["quote"]]
        assert source["metadata"][0]["source"] == url == source["metadata"][0]["source_url"]
    assert len({s["source"]["id"] for s in sources}) == len(sources)  # no duplicates


def test_streamed_chat_sends_source_events_then_one_annotations_chunk_before_finish(
    client: TestClient,
) -> None:
    plain = chat(client, TWO).json()
    chunks = sse_data(chat(client, TWO, stream=True).text)
    events = [c["event"] for c in chunks if "event" in c]
    assert all(c["choices"] == [] for c in chunks if "event" in c)
    assert [e["type"] for e in events] == ["source", "source"]
    assert [e["data"] for e in events] == plain["sources"]
    with_annotations = [
        i
        for i, c in enumerate(chunks)
        if c["choices"] and "annotations" in c["choices"][0]["delta"]
    ]
    assert len(with_annotations) == 1
    index = with_annotations[0]
    assert (
        chunks[index]["choices"][0]["delta"]["annotations"]
        == plain["choices"][0]["message"]["annotations"]
    )
    assert chunks[index]["choices"][0]["finish_reason"] is None
    assert chunks[index + 1]["choices"][0]["finish_reason"] == "stop"
    final = chunks[-1]
    assert final["citations"] == plain["citations"]
    assert final["rag_citations"] == plain["rag_citations"]


def test_an_abstention_cites_exactly_what_it_quotes(client: TestClient) -> None:
    # An abstention may quote the nearest sentence ("The closest they come: … [1]"); then
    # that one citation travels like any other, and without a quote nothing does.
    data = chat(client, UNKNOWN).json()
    assert data["abstained"] is True
    quoted = len(data["rag_citations"])
    assert quoted <= 1
    assert len(data["choices"][0]["message"]["annotations"]) == quoted
    assert len(data["citations"]) == len(data["sources"]) == quoted
    chunks = sse_data(chat(client, UNKNOWN, stream=True).text)
    assert sum("event" in c for c in chunks) == quoted
    annotated = [c for c in chunks if c["choices"] and "annotations" in c["choices"][0]["delta"]]
    assert len(annotated) == (1 if quoted else 0)


# --- Responses API ------------------------------------------------------------------------


def respond(client: TestClient, body: dict[str, Any]) -> Any:
    response = client.post("/v1/responses", json={"model": "nato-rag", **body})
    assert response.status_code == 200, response.text
    return response


def test_responses_api_returns_output_text_with_url_citations(client: TestClient) -> None:
    data = respond(client, {"input": TWO}).json()
    typed = Response.model_validate(data)
    assert typed.status == "completed" and typed.id.startswith("resp_")
    text = typed.output[0].content[0]
    assert text.type == "output_text"
    plain = chat(client, TWO).json()
    assert text.text == plain["choices"][0]["message"]["content"] == typed.output_text
    annotations = data["output"][0]["content"][0]["annotations"]
    expected = [a["url_citation"] for a in plain["choices"][0]["message"]["annotations"]]
    assert [{k: v for k, v in a.items() if k != "type"} for a in annotations] == expected
    assert all(a["type"] == "url_citation" for a in annotations)
    assert data["rag_citations"] == plain["rag_citations"] and data["abstained"] is False


def test_responses_stream_is_the_typed_event_sequence(client: TestClient) -> None:
    body = respond(client, {"input": TWO, "stream": True}).text
    blocks = [b for b in body.split("\n\n") if b.strip()]
    names = [b.splitlines()[0].removeprefix("event: ") for b in blocks]
    events = sse_data(body)
    assert [e["type"] for e in events] == names
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert names.count("response.output_text.annotation.added") == 2
    done = events[-1]["response"]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == done["output"][0]["content"][0]["text"]
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [e["annotation_index"] for e in added] == [0, 1]
    assert [e["annotation"] for e in added] == done["output"][0]["content"][0]["annotations"]


def test_responses_input_lists_resolve_follow_ups_like_chat(client: TestClient) -> None:
    command = "What new command is NATO setting up?"
    first = respond(client, {"input": command}).json()
    history = [
        {"role": "user", "content": command},
        {
            "type": "message",
            "role": "assistant",
            "id": first["output"][0]["id"],
            "content": first["output"][0]["content"],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Where is it?"}],
        },
    ]
    data = respond(client, {"input": history, "instructions": "Be brief."}).json()
    chat_reply = client.post(
        "/v1/chat/completions",
        json=chat_body(
            ("user", command),
            ("assistant", first["output"][0]["content"][0]["text"]),
            ("user", "Where is it?"),
        ),
    ).json()
    assert data["resolved_question"] == chat_reply["resolved_question"] != "Where is it?"
    assert data["output"][0]["content"][0]["text"] == chat_reply["choices"][0]["message"]["content"]


def test_responses_api_refuses_what_it_cannot_answer(client: TestClient) -> None:
    def post(body: dict[str, Any]) -> Any:
        return client.post("/v1/responses", json={"model": "nato-rag", **body})

    assert_error(post({"input": "  "}), 422, code="invalid_question")
    assert_error(post({"input": []}), 422, code="invalid_chat", says="no user message")
    assert_error(
        post({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}),
        422,
        code="invalid_chat",
        says="unsupported item type",
    )
    image = {"role": "user", "content": [{"type": "input_image", "image_url": "http://x/y.png"}]}
    assert_error(post({"input": [image]}), 422, code="invalid_chat", says="only text")
    assert_error(post({"input": [{"role": "tool", "content": "x"}]}), 422, code="invalid_chat")
    assert_error(
        post({"input": AMMO, "previous_response_id": "resp_1"}), 422, says="previous_response_id"
    )
    assert_error(post({"input": AMMO, "stream": "yes"}), 422, code="validation_error")
    assert_error(post({"model": "gpt-4", "input": AMMO}), 404, code="model_not_found")
    assert_error(post({}), 422, code="validation_error")


def test_responses_api_needs_the_api_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = Settings(
        seeds_dir=SEEDS,
        index_dir=tmp_path_factory.mktemp("index"),
        embed_backend="fake",
        api_key=KEY,
    )
    with TestClient(create_app(settings=settings)) as keyed:
        assert_error(keyed.post("/v1/responses", json={"input": AMMO}), 401)
        ok = keyed.post(
            "/v1/responses", json={"input": AMMO}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert ok.status_code == 200
