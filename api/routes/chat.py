"""OpenAI Chat Completions on top of the extractive pipeline: messages in, SSE chunks out."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import AnswerCounterDep, PipelineDep, SettingsDep, run_cpu
from api.errors import InvalidChatError
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
)
from rag.chat import Turn
from rag.pipeline import validate_question
from rag.text.valid import check_text
from rag.types import Answer

router = APIRouter(tags=["openai"])

ROLES = ("system", "developer", "user", "assistant")
WORDS_PER_PIECE = 4
_PIECE = re.compile(r"\s*\S+\s*")


def message_text(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise InvalidChatError(
                f"messages[{index}]: only text content is supported, not {part.type!r}."
            )
        texts.append(part.text)
    return "\n".join(texts)


def split_conversation(messages: Sequence[ChatMessage]) -> tuple[list[Turn], str]:
    """(history, question): the last user message is the question; system and developer
    messages are instructions for a generative model and are ignored here."""
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        if message.role not in ROLES:
            raise InvalidChatError(
                f"messages[{index}]: unsupported role {message.role!r}; "
                f"use one of {', '.join(ROLES)}."
            )
        text = check_text(message_text(message, index), f"messages[{index}].content")
        if message.role == "user":
            turns.append(Turn("user", text))
        elif message.role == "assistant":
            turns.append(Turn("assistant", text))
    last_user = max((i for i, t in enumerate(turns) if t.role == "user"), default=None)
    if last_user is None:
        raise InvalidChatError("messages has no user message: nothing to answer.")
    return turns[:last_user], turns[last_user].content


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


def completion(answer: Answer, resolved: str) -> ChatCompletion:
    return ChatCompletion(
        id=completion_id(),
        created=int(time.time()),
        choices=[ChatChoice(message=AssistantMessage(content=answer.answer))],
        citations=answer.citations,
        abstained=answer.abstained,
        resolved_question=resolved,
    )


def _event(chunk: ChatCompletionChunk) -> str:
    return f"data: {json.dumps(chunk.model_dump(), ensure_ascii=False)}\n\n"


def stream_events(answer: Answer, resolved: str) -> Iterator[str]:
    """SSE: a role chunk, content deltas, a final chunk (finish_reason "stop", citations,
    abstained), then `data: [DONE]`, as OpenAI streams."""
    cid, created = completion_id(), int(time.time())

    def chunk(delta: Delta, final: bool = False) -> str:
        return _event(
            ChatCompletionChunk(
                id=cid,
                created=created,
                choices=[ChunkChoice(delta=delta, finish_reason="stop" if final else None)],
                citations=answer.citations if final else None,
                abstained=answer.abstained if final else None,
                resolved_question=resolved if final else None,
            )
        )

    yield chunk(Delta(role="assistant", content=""))
    for piece in stream_pieces(answer.answer):
        yield chunk(Delta(content=piece))
    yield chunk(Delta(), final=True)
    yield "data: [DONE]\n\n"


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
    pipeline: PipelineDep,
    settings: SettingsDep,
    answers: AnswerCounterDep,
) -> Any:
    """OpenAI Chat Completions. The last user message is the question; earlier turns
    resolve follow-ups. Extra fields: `citations`, `abstained`, `resolved_question` (on
    the response, or on the final chunk when streaming)."""
    check_model(body.model)
    history, question = split_conversation(body.messages)
    question = validate_question(question, settings)
    reply = await run_cpu(pipeline.chat, history, question, body.top_k)
    answer, resolved = reply.answer, reply.resolved_question
    answers.labels("chat", str(answer.abstained).lower()).inc()
    if not body.stream:
        return completion(answer, resolved)

    async def events() -> AsyncIterator[str]:
        for event in stream_events(answer, resolved):
            yield event

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
