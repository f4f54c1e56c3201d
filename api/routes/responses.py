"""OpenAI Responses API (`POST /v1/responses`): `input` in, one `output_text` with
`url_citation` annotations out, plain or streamed as the typed events OpenAI sends.

Nothing is stored: a conversation travels in `input` (a list of messages), and follow-ups
are resolved from it as in chat, through `Pipeline.chat`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Request

from api.citations import CitedAnswer
from api.conversation import check_role, content_text, split_turns
from api.deps import AnswerCounterDep, PipelineDep, SettingsDep, run_cpu
from api.errors import InvalidChatError
from api.routes.chat import sse, stream_pieces
from api.routes.models import check_model
from api.schemas import (
    AnnotationAddedEvent,
    ContentPartEvent,
    ErrorResponse,
    InputItem,
    OutputItemEvent,
    OutputMessage,
    OutputText,
    ResponseLifecycleEvent,
    ResponseObject,
    ResponsesRequest,
    ResponseStreamEvent,
    TextDeltaEvent,
    TextDoneEvent,
)
from rag.chat import Turn
from rag.pipeline import validate_question

router = APIRouter(tags=["openai"])


def split_input(items: str | Sequence[InputItem]) -> tuple[list[Turn], str]:
    """(history, question) from `input`: a string is one user message; a list holds
    messages (`{"role", "content"}`, with or without `"type": "message"`)."""
    if isinstance(items, str):
        return split_turns([("user", items)], "input")
    pairs = []
    for index, item in enumerate(items):
        where = f"input[{index}]"
        if item.type != "message":
            raise InvalidChatError(
                f"{where}: unsupported item type {item.type!r}; send messages only "
                "(this server has no tools)."
            )
        pairs.append((check_role(item.role, where), content_text(item.content, where)))
    return split_turns(pairs, "input")


def _ids() -> tuple[str, str]:
    return f"resp_{uuid.uuid4().hex}", f"msg_{uuid.uuid4().hex}"


def response_object(
    cited: CitedAnswer,
    resolved: str,
    instructions: str | None,
    response_id: str,
    message_id: str,
    created: int,
) -> ResponseObject:
    answer = cited.answer
    text = OutputText(text=answer.answer, annotations=cited.response_annotations())
    return ResponseObject(
        id=response_id,
        created_at=created,
        status="completed",
        output=[OutputMessage(id=message_id, status="completed", content=[text])],
        instructions=instructions,
        rag_citations=cited.citations,
        abstained=answer.abstained,
        resolved_question=resolved,
    )


def _sse(event: ResponseStreamEvent) -> str:
    data = json.dumps(event.model_dump(), ensure_ascii=False)
    return f"event: {event.type}\ndata: {data}\n\n"


def stream_events(cited: CitedAnswer, resolved: str, instructions: str | None) -> Iterator[str]:
    """The event sequence of a streamed text response: created, in_progress, the message
    item and its output_text part added, text deltas, one annotation.added per citation,
    text done, part done, item done, completed (with the whole response)."""
    response_id, message_id = _ids()
    created = int(time.time())
    done = response_object(cited, resolved, instructions, response_id, message_id, created)
    text = done.output[0].content[0]
    pending = ResponseObject(
        id=response_id,
        created_at=created,
        status="in_progress",
        output=[],
        instructions=instructions,
    )
    empty_part = OutputText(text="", annotations=[])
    empty_item = OutputMessage(id=message_id, status="in_progress", content=[])
    where = {"item_id": message_id}
    events: list[ResponseStreamEvent] = []
    seq = iter(range(1_000_000))

    events.append(
        ResponseLifecycleEvent(type="response.created", sequence_number=next(seq), response=pending)
    )
    events.append(
        ResponseLifecycleEvent(
            type="response.in_progress", sequence_number=next(seq), response=pending
        )
    )
    events.append(
        OutputItemEvent(
            type="response.output_item.added", sequence_number=next(seq), item=empty_item
        )
    )
    events.append(
        ContentPartEvent(
            type="response.content_part.added", sequence_number=next(seq), part=empty_part, **where
        )
    )
    for piece in stream_pieces(text.text):
        events.append(TextDeltaEvent(sequence_number=next(seq), delta=piece, **where))
    for index, annotation in enumerate(text.annotations):
        events.append(
            AnnotationAddedEvent(
                sequence_number=next(seq), annotation_index=index, annotation=annotation, **where
            )
        )
    events.append(TextDoneEvent(sequence_number=next(seq), text=text.text, **where))
    events.append(
        ContentPartEvent(
            type="response.content_part.done", sequence_number=next(seq), part=text, **where
        )
    )
    events.append(
        OutputItemEvent(
            type="response.output_item.done", sequence_number=next(seq), item=done.output[0]
        )
    )
    events.append(
        ResponseLifecycleEvent(type="response.completed", sequence_number=next(seq), response=done)
    )
    for event in events:
        yield _sse(event)


@router.post(
    "/v1/responses",
    response_model=ResponseObject,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE events"},
        404: {"model": ErrorResponse, "description": "Unknown model"},
    },
)
async def create_response(
    body: ResponsesRequest,
    request: Request,
    pipeline: PipelineDep,
    settings: SettingsDep,
    answers: AnswerCounterDep,
) -> Any:
    """OpenAI Responses API. The last user message of `input` is the question; earlier
    messages resolve follow-ups. The answer is one `output_text` whose `annotations` are
    `url_citation`s (one per cited sentence); extra fields `rag_citations`, `abstained`,
    `resolved_question`. `instructions` are accepted and ignored; nothing is stored."""
    check_model(body.model)
    if body.previous_response_id is not None:
        raise InvalidChatError(
            "previous_response_id is not supported: this server stores no responses; "
            "send the conversation in input."
        )
    history, question = split_input(body.input)
    question = validate_question(question, settings)
    reply = await run_cpu(pipeline.chat, history, question, body.top_k)
    answers.labels("responses", str(reply.answer.abstained).lower()).inc()
    cited = CitedAnswer.build(reply.answer, str(request.base_url))
    if not body.stream:
        response_id, message_id = _ids()
        return response_object(
            cited,
            reply.resolved_question,
            body.instructions,
            response_id,
            message_id,
            int(time.time()),
        )
    return sse(stream_events(cited, reply.resolved_question, body.instructions))
