"""Request and response schemas of the HTTP API (separate from the library's own types)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)

from rag.types import Citation

MODEL_ID = "nato-rag"


def _integral_number(value: Any) -> Any:
    """35.0 -> 35. JSON Schema's "integer" includes numbers with a zero fraction (and JSON
    itself does not tell 35 from 35.0), so the schema promises they are accepted."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Strict otherwise: "5" or true is a client bug worth reporting, not something to coerce.
TopK = Annotated[
    int,
    Field(strict=True, ge=1, le=50, description="Passages to retrieve (1-50)."),
    BeforeValidator(_integral_number),
]


# --- errors -------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    """Every error, whatever the endpoint: OpenAI's error shape."""

    error: ErrorBody


# --- /ask, /search ------------------------------------------------------------------------


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "Where will NATO's new command be based?", "top_k": 5}]
        },
    )

    question: str = Field(description="A question about the articles.")
    top_k: TopK | None = None


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"query": "Ramstein Group", "top_k": 3}]}
    )

    query: str = Field(description="Words or a question to rank passages for.")
    top_k: TopK | None = None


class SearchHit(BaseModel):
    rank: int
    doc_id: str
    title: str
    start: int = Field(description="Character offset of the passage in the article text.")
    end: int
    text: str = Field(description="The article text between start and end.")
    score: float


class SearchResponse(BaseModel):
    query: str
    passages: list[SearchHit]


# --- /documents ---------------------------------------------------------------------------


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    outlet: str | None
    date: str | None = Field(description="ISO date printed in the article, if any.")
    sort_date: str | None = Field(description="Date or inferred YYYY-MM, for ordering only.")
    date_note: str | None = Field(description="Human wording for an inferred date.")
    length: int = Field(description="Length of the article text in characters.")
    chunk_count: int
    authors: list[str] = Field(default_factory=list, description="From the byline.")
    updated: str | None = Field(None, description="ISO date of an 'Updated ...' line.")
    source: Literal["seed", "library"] = Field(
        "seed", description="A seed file, or an article added with POST /documents / rag add."
    )


class DocumentIn(BaseModel):
    """An article to add (POST /documents) or the new version of one (PUT)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The article: plain text, or an HTML page with format=html.")
    doc_id: str | None = Field(
        None, description="Id to store it under (POST only); default: derived from the text."
    )
    title: str | None = Field(None, max_length=500)
    date: str | None = Field(None, description="Publication date, YYYY-MM-DD.")
    outlet: str | None = Field(None, max_length=200)
    format: Literal["text", "html"] = "text"


class DocumentWritten(BaseModel):
    doc_id: str
    title: str
    outlet: str | None
    date: str | None
    index_version: str = Field(description="The index build now served (GET /health).")


class TextRange(BaseModel):
    start: int
    end: int
    text: str


class SpanInContext(TextRange):
    """The requested span and the paragraph around it, to show a cited passage in place."""

    paragraph: TextRange


class DocumentDetail(DocumentSummary):
    text: str
    span: SpanInContext | None = None


# --- /health ------------------------------------------------------------------------------


class HealthStatus(BaseModel):
    """What /health tells an unauthenticated caller when RAG_API_KEY is set."""

    status: Literal["ok"]


class HealthUnavailable(ErrorResponse):
    """503 from /health: the error shape, plus a status and a reason code for probes. The
    message names files only for authenticated callers."""

    status: Literal["unavailable"] = "unavailable"
    reason: str = Field(
        description="seeds_not_found, seed_read, index_corrupted, index_mismatch, model_load, "
        "missing_dependency, invalid_settings, load_failed or loading."
    )


class Health(HealthStatus):
    rag_version: str
    model_id: str
    embed_backend: str
    store: str = Field(description="Where the index lives: faiss (files) or pgvector.")
    documents: int
    chunks: int
    sentences: int
    index_type: str | None
    index_version: str = Field(description="The live index build; changes with every write.")
    index_built_at: str | None
    index_rag_version: str | None
    load_seconds: float | None = Field(description="Model + index loading time at start-up.")


# --- OpenAI-compatible chat ---------------------------------------------------------------


# The roles the chat and responses routes accept (api/conversation.py); anything else is a 422
# invalid_chat.
CHAT_ROLES = ("system", "developer", "user", "assistant")


def _text_part_schema(schema: dict[str, Any]) -> None:
    # The route refuses any part but a text part with its text (422 invalid_chat, which
    # names the part): the schema says so, while the model stays lax to give that message.
    schema["properties"]["type"] = {"type": "string", "const": "text", "title": "Type"}
    schema["properties"]["text"] = {"type": "string", "title": "Text"}
    schema["required"] = ["type", "text"]


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=_text_part_schema)

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    # Clients send name, tool_calls, ...: accepted and ignored.
    model_config = ConfigDict(extra="allow")

    role: str = Field(
        description="system, developer, user or assistant.",
        json_schema_extra={"enum": list(CHAT_ROLES)},
    )
    content: str | list[ContentPart] | None = None


class ChatCompletionRequest(BaseModel):
    # temperature, max_tokens, ... are accepted and ignored: the answer is extractive.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": MODEL_ID,
                    "messages": [
                        {"role": "user", "content": "What new command is NATO setting up?"}
                    ],
                }
            ]
        },
    )

    model: str = MODEL_ID
    messages: list[ChatMessage]
    stream: Annotated[bool, Field(strict=True)] = False
    top_k: TopK | None = None


# --- citations the standard way -----------------------------------------------------------


class CitationLink(BaseModel):
    """What OpenAI's `url_citation` holds, plus our extras (clients keep unknown keys)."""

    start_index: int = Field(description="Start of the cited answer text (its [n] included).")
    end_index: int = Field(description="End (exclusive) of the cited answer text.")
    url: str = Field(description="Absolute link that opens the passage on this server.")
    title: str = Field(description="The article's title.")
    # Extensions: which passage, exactly. text[source_start:source_end] == quote.
    marker: int = Field(description="n of the [n] this annotation covers.")
    doc_id: str
    source_start: int = Field(description="Offset of the quote in the article text.")
    source_end: int
    quote: str


class ChatAnnotation(BaseModel):
    """Chat Completions shape: `{"type": "url_citation", "url_citation": {...}}`."""

    type: Literal["url_citation"] = "url_citation"
    url_citation: CitationLink


class ResponseAnnotation(CitationLink):
    """Responses API shape: the same fields, flat, with `type`."""

    type: Literal["url_citation"] = "url_citation"


class SourceRef(BaseModel):
    id: str
    name: str
    url: str


class SourceMetadata(BaseModel):
    source: str = Field(description="The source's id (its URL): one entry per marker.")
    source_url: str
    name: str
    marker: int
    doc_id: str
    start: int
    end: int
    date: str | None


class Source(BaseModel):
    """Open WebUI's source shape: shown in its source panel, n-th source for [n]."""

    source: SourceRef
    document: list[str] = Field(description="The quoted passage.")
    metadata: list[SourceMetadata]


class SourceEvent(BaseModel):
    type: Literal["source"] = "source"
    data: Source


# --- OpenAI Chat Completions --------------------------------------------------------------


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None
    annotations: list[ChatAnnotation] = Field(
        default_factory=list, description="One url_citation per cited sentence."
    )


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[ChatChoice]
    # Extensions beyond OpenAI's schema (clients expose them as extra fields).
    citations: list[str] = Field(
        description="Perplexity's convention: the URL of source n at index n-1."
    )
    sources: list[Source] = Field(description="Open WebUI's source list, source n for [n].")
    rag_citations: list[Citation] = Field(description="The structured citations of POST /ask.")
    abstained: bool
    resolved_question: str = Field(
        description="The question as retrieved with, after resolving a follow-up."
    )


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    annotations: list[ChatAnnotation] | None = None

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # OpenAI sends {"content": "..."} and {} rather than nulls.
        return {k: v for k, v in handler(self).items() if v is not None}


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


_CHUNK_EXTRAS = ("event", "citations", "rag_citations", "abstained", "resolved_question")


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL_ID
    choices: list[ChunkChoice]
    # Open WebUI's event chunks (with no choices): one source each.
    event: SourceEvent | None = None
    # Only on the final chunk.
    citations: list[str] | None = None
    rag_citations: list[Citation] | None = None
    abstained: bool | None = None
    resolved_question: str | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_extras(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in _CHUNK_EXTRAS:
            if data.get(key) is None:
                data.pop(key, None)
        return data


# --- OpenAI Responses API -----------------------------------------------------------------


class InputPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="input_text, output_text or text; nothing else is read.")
    text: str | None = None


class InputItem(BaseModel):
    # id, status, annotations of earlier output, ...: accepted and ignored.
    model_config = ConfigDict(extra="allow")

    type: str = Field(
        "message",
        description="message (this server has no tools)",
        json_schema_extra={"enum": ["message"]},
    )
    # Optional here so that an item of another type gets its own message from the route.
    role: str | None = Field(
        None,
        description="system, developer, user or assistant.",
        json_schema_extra={"enum": list(CHAT_ROLES)},
    )
    content: str | list[InputPart] | None = None


class ResponsesRequest(BaseModel):
    # temperature, max_output_tokens, store, include, ... are accepted and ignored.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"model": MODEL_ID, "input": "What new command is NATO setting up?"}]
        },
    )

    model: str = MODEL_ID
    input: str | list[InputItem]
    instructions: str | None = None
    stream: Annotated[bool, Field(strict=True)] = False
    # Accepted as null only: this server stores no responses. Any other value is refused with
    # a message saying so (the route), so the schema says null.
    previous_response_id: Annotated[
        str | None,
        WithJsonSchema({"type": "null", "description": "not supported: send the conversation"}),
    ] = None
    top_k: TopK | None = None


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[ResponseAnnotation]
    logprobs: list[Any] = Field(default_factory=list)


class OutputMessage(BaseModel):
    type: Literal["message"] = "message"
    id: str
    status: Literal["in_progress", "completed"]
    role: Literal["assistant"] = "assistant"
    content: list[OutputText]


class ResponseObject(BaseModel):
    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Literal["in_progress", "completed"]
    model: str = MODEL_ID
    output: list[OutputMessage]
    error: None = None
    incomplete_details: None = None
    instructions: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    parallel_tool_calls: bool = False
    tool_choice: Literal["none"] = "none"
    tools: list[Any] = Field(default_factory=list)
    usage: None = None
    # Extensions, on the completed response only.
    rag_citations: list[Citation] | None = None
    abstained: bool | None = None
    resolved_question: str | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_extras(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in ("rag_citations", "abstained", "resolved_question"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class ResponseLifecycleEvent(BaseModel):
    type: Literal["response.created", "response.in_progress", "response.completed"]
    sequence_number: int
    response: ResponseObject


class OutputItemEvent(BaseModel):
    type: Literal["response.output_item.added", "response.output_item.done"]
    sequence_number: int
    output_index: int = 0
    item: OutputMessage


class _InContentPart(BaseModel):
    """Where a Responses stream event sits: which item, output and content part."""

    sequence_number: int
    item_id: str
    output_index: int = 0
    content_index: int = 0


class ContentPartEvent(_InContentPart):
    type: Literal["response.content_part.added", "response.content_part.done"]
    part: OutputText


class TextDeltaEvent(_InContentPart):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str
    logprobs: list[Any] = Field(default_factory=list)


class TextDoneEvent(_InContentPart):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str
    logprobs: list[Any] = Field(default_factory=list)


class AnnotationAddedEvent(_InContentPart):
    type: Literal["response.output_text.annotation.added"] = "response.output_text.annotation.added"
    annotation_index: int
    annotation: ResponseAnnotation


ResponseStreamEvent = (
    ResponseLifecycleEvent
    | OutputItemEvent
    | ContentPartEvent
    | TextDeltaEvent
    | TextDoneEvent
    | AnnotationAddedEvent
)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "nato-rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
