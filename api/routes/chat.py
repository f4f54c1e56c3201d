"""OpenAI Chat Completions on top of the extractive pipeline: messages in, SSE chunks out.

Citations travel the standard way, `choices[0].message.annotations` (`url_citation`, one per
cited sentence; streamed as one `delta.annotations` chunk before the finish chunk), plus
what Open WebUI reads (`sources`, or `event` chunks when streaming) and extensions of ours
(`citations`: URLs as Perplexity sends them; `rag_citations`, `abstained`,
`resolved_question`).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.citations import CitedAnswer
from api.conversation import check_role, content_text, split_turns
from api.deps import AnswerCounterDep, PipelineDep, SettingsDep, run_cpu
from api.routes.models import check_model
from api.schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    ChunkChoice,
    Delta,
    ErrorResponse,
    SourceEvent,
)
from rag.chat import Turn
from rag.pipeline import validate_question

router = APIRouter(tags=["openai"])

WORDS_PER_PIECE = 4
_PIECE = re.compile(r"\s*\S+\s*")


def split_conversation(messages: Sequence[ChatMessage]) -> tuple[list[Turn], str]:
    """(history, question): the last user message is the question."""
    pairs = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        pairs.append((check_role(message.role, where), content_text(message.content, where)))
    return split_turns(pairs)


def stream_pieces(text: str, words_per_piece: int = WORDS_PER_PIECE) -> list[str]:
    """Groups of a few words, whitespace kept, so that "".join(pieces) == text."""
    tokens = _PIECE.findall(text)
    pieces = [
        "".join(tokens[i : i + words_per_piece]) for i in range(0, len(tokens), words_per_piece)
    ]
    if "".join(pieces) != text:  # only whitespace-only text has no tokens
        return [text] if text else []
    return pieces


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(cited: CitedAnswer, resolved: str) -> ChatCompletion:
    answer = cited.answer
    message = AssistantMessage(content=answer.answer, annotations=cited.chat_annotations())
    return ChatCompletion(
        id=completion_id(),
        created=int(time.time()),
        choices=[ChatChoice(message=message)],
        citations=cited.url_list(),
        sources=cited.sources(),
        rag_citations=cited.citations,
        abstained=answer.abstained,
        resolved_question=resolved,
    )


def _event(chunk: ChatCompletionChunk) -> str:
    return f"data: {json.dumps(chunk.model_dump(), ensure_ascii=False)}\n\n"


def stream_events(cited: CitedAnswer, resolved: str) -> Iterator[str]:
    """SSE, as OpenAI streams: a role chunk; one Open WebUI `event` chunk per source (no
    choices, so other clients skip them); content deltas; all the annotations in one delta
    (openai-python's `.stream()` helper merges only a single one); a final chunk
    (finish_reason "stop" and our extensions); then `data: [DONE]`."""
    cid, created = completion_id(), int(time.time())
    answer = cited.answer

    def chunk(delta: Delta | None, **extra: Any) -> str:
        choices = [] if delta is None else [ChunkChoice(delta=delta)]
        return _event(ChatCompletionChunk(id=cid, created=created, choices=choices, **extra))

    yield chunk(Delta(role="assistant", content=""))
    for source in cited.sources():
        yield chunk(None, event=SourceEvent(data=source))
    for piece in stream_pieces(answer.answer):
        yield chunk(Delta(content=piece))
    annotations = cited.chat_annotations()
    if annotations:
        yield chunk(Delta(annotations=annotations))
    final = ChatCompletionChunk(
        id=cid,
        created=created,
        choices=[ChunkChoice(delta=Delta(), finish_reason="stop")],
        citations=cited.url_list(),
        rag_citations=cited.citations,
        abstained=answer.abstained,
        resolved_question=resolved,
    )
    yield _event(final)
    yield "data: [DONE]\n\n"


def sse(events: Iterator[str]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        for event in events:
            yield event

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE chunks"},
        404: {"model": ErrorResponse, "description": "Unknown model"},
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    pipeline: PipelineDep,
    settings: SettingsDep,
    answers: AnswerCounterDep,
) -> Any:
    """OpenAI Chat Completions. The last user message is the question; earlier turns
    resolve follow-ups. Citations: `message.annotations` (url_citation); extra fields
    `citations` (URLs), `sources` (Open WebUI), `rag_citations`, `abstained`,
    `resolved_question` (on the response, or on the final chunk when streaming)."""
    check_model(body.model)
    history, question = split_conversation(body.messages)
    question = validate_question(question, settings)
    reply = await run_cpu(pipeline.chat, history, question, body.top_k)
    answers.labels("chat", str(reply.answer.abstained).lower()).inc()
    cited = CitedAnswer.build(reply.answer, str(request.base_url))
    if not body.stream:
        return completion(cited, reply.resolved_question)
    return sse(stream_events(cited, reply.resolved_question))
