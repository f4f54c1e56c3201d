"""HTTP API over the `rag` library.

Run with `rag serve` (or `uvicorn api.app:create_app --factory`). The model and the index load
once, in the lifespan; if loading fails the server still starts and every endpoint answers
503 with the reason, so a supervisor sees why instead of a crash loop.
"""

from __future__ import annotations

import functools
import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import anyio.to_thread
import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Security
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter
from prometheus_fastapi_instrumentator import Instrumentator

from api import chat, documents
from api.errors import (
    AuthenticationError,
    ModelNotFoundError,
    ServiceUnavailableError,
    install_error_handlers,
)
from api.middleware import MAX_BODY_BYTES, BodySizeLimit
from api.schemas import (
    MODEL_ID,
    AskRequest,
    ChatCompletion,
    ChatCompletionRequest,
    DocumentDetail,
    DocumentSummary,
    ErrorResponse,
    Health,
    ModelCard,
    ModelList,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from rag import __version__
from rag.conversation import Lexicon, resolve
from rag.embed import Embedder, load_embedder
from rag.errors import RagError
from rag.pipeline import Pipeline, validate_question
from rag.settings import Settings, get_settings
from rag.types import Answer

log = logging.getLogger("uvicorn.error")

STATIC_DIR = Path(__file__).resolve().parent / "static"
WARM_UP_QUESTION = "Where will NATO's new command for Ukraine be based?"
STARTED = int(time.time())


class SerializedEmbedder:
    """Lets one thread at a time into the model.

    Requests run in a thread pool. A Hugging Face fast tokenizer is not safe to share between
    threads ("RuntimeError: Already borrowed": huggingface/tokenizers#537,
    huggingface/transformers#47085), so query encoding is serialised; the rest of a request
    (BM25, FAISS, answer selection) only reads shared data and runs in parallel.
    benchmarks/load_api.py compares this with one lock around the whole request.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.fingerprint = getattr(inner, "fingerprint", inner.model_id)
        self.dim = inner.dim
        self._lock = threading.Lock()

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        with self._lock:
            return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)


@dataclass
class Service:
    """What the lifespan loaded, or why it could not."""

    pipeline: Pipeline | None = None
    error: str | None = None
    load_seconds: float | None = None
    _lexicon: tuple[int, Lexicon] | None = field(default=None, repr=False)

    def load(self, settings_provider: Callable[[], Settings]) -> None:
        started = time.perf_counter()
        try:
            settings = settings_provider()
            pipeline = Pipeline.load(settings, embedder=SerializedEmbedder(load_embedder(settings)))
            # The first call initialises lazy state: pay it here, not in a client's request.
            pipeline.ask(WARM_UP_QUESTION[: settings.max_question_chars])
            self.lexicon(pipeline)  # built here, in a worker thread, not on the event loop
        except RagError as exc:
            self.error = str(exc)
        except Exception as exc:  # bad RAG_* settings, a broken model folder, ...
            self.error = f"Loading failed: {type(exc).__name__}: {exc}"
        else:
            self.pipeline = pipeline
            self.load_seconds = round(time.perf_counter() - started, 3)
            manifest = pipeline.index.manifest
            log.info(
                "rag: loaded %s documents, %s chunks, model %s in %.1f s",
                manifest["index"]["documents"],
                manifest["index"]["chunks"],
                pipeline.embedder.model_id,
                self.load_seconds,
            )
            return
        log.error("rag: the service is not ready: %s", self.error)

    def lexicon(self, pipeline: Pipeline) -> Lexicon:
        """Names and terms of the corpus, for follow-up detection (built once per pipeline)."""
        if self._lexicon is None or self._lexicon[0] != id(pipeline):
            lexicon = Lexicon.from_texts(s.text for s in pipeline.index.sentences)
            self._lexicon = (id(pipeline), lexicon)
        return self._lexicon[1]


# --- dependencies -------------------------------------------------------------------------
# All async: FastAPI runs a plain `def` dependency in the worker thread pool, a hop that cost
# about half a millisecond each on every request (benchmarks/load_api.py); these never block.


async def current_settings(request: Request) -> Settings:
    """`get_settings`, or what a test put in its place with `dependency_overrides`."""
    return request.app.dependency_overrides.get(get_settings, get_settings)()


async def get_service(request: Request) -> Service:
    return cast(Service, request.app.state.service)


async def get_pipeline(service: Annotated[Service, Depends(get_service)]) -> Pipeline:
    if service.pipeline is None:
        raise ServiceUnavailableError(service.error or "The service has not finished loading.")
    return service.pipeline


async def get_lexicon(
    service: Annotated[Service, Depends(get_service)],
    pipeline: Annotated[Pipeline, Depends(get_pipeline)],
) -> Lexicon:
    return service.lexicon(pipeline)


_bearer = HTTPBearer(auto_error=False, description="The server's RAG_API_KEY, when it sets one.")


async def require_api_key(
    settings: Annotated[Settings, Depends(current_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    expected = settings.api_key
    if not expected:
        return
    if credentials is None:
        raise AuthenticationError("Missing API key: send the header 'Authorization: Bearer <key>'.")
    # Constant-time comparison, on bytes (compare_digest rejects non-ASCII str).
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise AuthenticationError("Invalid API key.")


SettingsDep = Annotated[Settings, Depends(current_settings)]
ServiceDep = Annotated[Service, Depends(get_service)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (401, "Missing or wrong API key"),
        (422, "Invalid request"),
        (503, "Model or index not loaded"),
    )
}


T = TypeVar("T")


async def run_cpu(func: Callable[..., T], *args: Any) -> T:
    """CPU-bound library work in a worker thread, so the event loop keeps serving.

    AnyIO's default pool (40 threads). Capping it at the core count measured the same
    throughput at 8 and 32 concurrent clients (benchmarks/load_api.py), so it stays simple.
    """
    return await anyio.to_thread.run_sync(functools.partial(func, *args))


# --- routes -------------------------------------------------------------------------------


def _routes(answers: Counter) -> tuple[APIRouter, APIRouter]:
    public = APIRouter(tags=["ops"])
    api = APIRouter(dependencies=[Depends(require_api_key)], responses=ERRORS)

    @public.get("/health", response_model=Health, responses={503: {"model": ErrorResponse}})
    async def health(service: ServiceDep, pipeline: PipelineDep) -> Health:
        """Ready (200) once the model and the index are loaded; 503 with the reason if not."""
        manifest = pipeline.index.manifest
        return Health(
            status="ok",
            rag_version=__version__,
            model_id=pipeline.embedder.model_id,
            embed_backend=pipeline.settings.embed_backend,
            documents=len(pipeline.index.documents),
            chunks=len(pipeline.index.chunks),
            sentences=len(pipeline.index.sentences),
            index_type=manifest.get("index", {}).get("type"),
            index_built_at=manifest.get("built_at"),
            index_rag_version=manifest.get("rag_version"),
            load_seconds=service.load_seconds,
        )

    @api.post("/ask", response_model=Answer, tags=["rag"])
    async def ask(body: AskRequest, pipeline: PipelineDep, settings: SettingsDep) -> Answer:
        """Answer a question from the articles: extractive, every sentence cited `[n]`."""
        question = validate_question(body.question, settings)
        # CPU-bound: a worker thread, so the event loop keeps serving other requests.
        answer = await run_cpu(pipeline.ask, question, body.top_k)
        answers.labels("ask", str(answer.abstained).lower()).inc()
        return answer

    @api.post("/search", response_model=SearchResponse, tags=["rag"])
    async def search(
        body: SearchRequest, pipeline: PipelineDep, settings: SettingsDep
    ) -> SearchResponse:
        """The passages ranked for a query, with their character offsets (no answer)."""
        query = validate_question(body.query, settings)
        passages = await run_cpu(pipeline.search, query, body.top_k)
        docs = pipeline.index.documents
        return SearchResponse(
            query=query,
            passages=[
                SearchHit(rank=rank, title=docs[p.doc_id].title, **p.model_dump())
                for rank, p in enumerate(passages, start=1)
            ],
        )

    @api.get("/documents", response_model=list[DocumentSummary], tags=["documents"])
    async def list_documents(pipeline: PipelineDep) -> list[DocumentSummary]:
        """The articles in the index."""
        return documents.list_documents(pipeline)

    @api.get(
        "/documents/{doc_id}",
        response_model=DocumentDetail,
        tags=["documents"],
        responses={404: {"model": ErrorResponse, "description": "Unknown document"}},
    )
    async def get_document(
        doc_id: str,
        pipeline: PipelineDep,
        start: Annotated[int | None, Query(description="Span start (character offset)")] = None,
        end: Annotated[int | None, Query(description="Span end (exclusive)")] = None,
    ) -> DocumentDetail:
        """An article's full text; with `start` and `end`, also that span and its paragraph."""
        return documents.get_document(pipeline, doc_id, start, end)

    @api.get("/v1/models", response_model=ModelList, tags=["openai"])
    async def list_models() -> ModelList:
        """OpenAI-compatible model list: the one model, `nato-rag`."""
        return ModelList(data=[ModelCard(id=MODEL_ID, created=STARTED)])

    @api.get("/v1/models/{model_id}", response_model=ModelCard, tags=["openai"])
    async def get_model(model_id: str) -> ModelCard:
        _check_model(model_id)
        return ModelCard(id=MODEL_ID, created=STARTED)

    @api.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        tags=["openai"],
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE chunks"},
            404: {"model": ErrorResponse, "description": "Unknown model"},
        },
    )
    async def chat_completions(
        body: ChatCompletionRequest,
        pipeline: PipelineDep,
        settings: SettingsDep,
        lexicon: Annotated[Lexicon, Depends(get_lexicon)],
    ) -> Any:
        """OpenAI Chat Completions. The last user message is the question; earlier turns
        resolve follow-ups. Extra fields: `citations`, `abstained`, `resolved_question` (on
        the response, or on the final chunk when streaming)."""
        _check_model(body.model)
        history, question = chat.split_conversation(body.messages)
        question = validate_question(question, settings)
        resolved = resolve(history, question, lexicon).question
        if len(resolved) > settings.max_question_chars:
            resolved = question  # the added context must not make a valid question too long
        answer = await run_cpu(pipeline.ask, resolved, body.top_k)
        answers.labels("chat", str(answer.abstained).lower()).inc()
        if not body.stream:
            return chat.completion(answer, resolved)

        async def events() -> AsyncIterator[str]:
            for event in chat.stream_events(answer, resolved):
                yield event

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return public, api


def _check_model(model: str) -> None:
    if model != MODEL_ID:
        raise ModelNotFoundError(
            f"The model {model!r} does not exist; this server serves "
            f"{MODEL_ID!r} (see GET /v1/models)."
        )


# --- application --------------------------------------------------------------------------


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    service: Service = app.state.service
    # A test that injects its pipeline through the dependency needs nothing loaded.
    if service.pipeline is None and get_pipeline not in app.dependency_overrides:
        provider = app.dependency_overrides.get(get_settings, get_settings)
        await anyio.to_thread.run_sync(service.load, provider)
    yield


def create_app(*, max_body_bytes: int = MAX_BODY_BYTES, static_dir: Path = STATIC_DIR) -> FastAPI:
    app = FastAPI(
        title="NATO aid to Ukraine: cited answers",
        version=__version__,
        summary="Extractive, cited question answering over five news articles.",
        lifespan=lifespan,
    )
    app.state.service = Service()
    install_error_handlers(app)

    registry = CollectorRegistry()
    answers = Counter(
        "rag_answers",
        "Answers given, by endpoint and abstention",
        ["endpoint", "abstained"],
        registry=registry,
    )
    public, api = _routes(answers)
    app.include_router(public)
    app.include_router(api)

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        page = static_dir / "index.html"
        if page.is_file():
            return FileResponse(page)
        return RedirectResponse("/docs")

    if static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=static_dir), name="static")

    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    # Added last, so outermost: 401/413/422 responses are counted too.
    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app, tags=["ops"], dependencies=[Depends(require_api_key)]
    )
    return app


app = create_app()
