"""Shared dependencies of the routes: the loaded service, settings, pipeline, API key.

All async: FastAPI runs a plain `def` dependency in the worker thread pool, a hop that cost
about half a millisecond each on every request (benchmarks/load_api.py); these never block.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, cast

import anyio.to_thread
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter
from pydantic import ValidationError

from api.auth import key_matches
from api.errors import AuthenticationError, ServiceUnavailableError, error_code
from api.schemas import ErrorResponse
from rag.embed import SerializedEmbedder, load_embedder
from rag.errors import RagError, StoreUnavailableError, WritesDisabledError
from rag.pipeline import Pipeline
from rag.settings import Settings, describe_settings_error
from rag.store import LoadedIndex
from rag.store.library import Library, WriteResult

log = logging.getLogger("uvicorn.error")

WARM_UP_QUESTION = "Where will NATO's new command for Ukraine be based?"
# How long a request waits for a reload in progress before it is served the current version.
RELOAD_WAIT_S = 5.0
# A service whose store could not be reached at start-up tries again this often.
RETRY_LOAD_S = 5.0


@dataclass
class Service:
    """What the lifespan loaded, or why it could not. `settings` and `pipeline` may be given
    up front (tests, embedding the app); whatever is missing is loaded by `load`."""

    settings: Settings | None = None
    pipeline: Pipeline | None = None
    # Why loading failed: `reason` is a public code ("seeds_not_found"); `error` the full
    # message, which may name files and is only for the log and authenticated callers.
    reason: str | None = None
    error: str | None = None
    load_seconds: float | None = None
    # One write (or reload) at a time in this process; other processes wait on the build lock.
    _writes: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _unloadable: str | None = field(default=None, repr=False)  # a build that failed to load
    _embedder: SerializedEmbedder | None = field(default=None, repr=False)

    def write(self, change: Callable[[Library], WriteResult]) -> WriteResult:
        """Apply a corpus change (add, update, delete) and serve its result at once: the new
        pipeline is swapped in whole, so a request sees the old corpus or the new, never a mix
        (each request reads `pipeline` once)."""
        pipeline = self._ready()
        with self._writes:
            library = Library(
                pipeline.settings, pipeline.embedder, pipeline.analyzer, store=pipeline.store
            )
            result = change(library)
            self._swap(result.index)
        return result

    def refresh(self, wait: bool = False) -> bool:
        """Swap in the live version when another process (`rag add`, another worker) changed
        it; True if it did. A version that does not load yet (its articles changed again
        meanwhile) is retried on the next call. `wait`: if another thread is reloading or
        writing, wait for it and check again, rather than return at once."""
        pipeline = self.pipeline
        if pipeline is None:
            return False
        live = pipeline.store.live_version()
        if live is None or live == pipeline.index.version:
            return False
        if pipeline.store.shared and live == self._unloadable:
            return False  # the same rows would fail the same way: wait for the next write
        # Wait a bounded time: a reload takes a fraction of a second, but this worker's own
        # write (which will swap in a version at least as new) may hold the lock longer.
        if not self._writes.acquire(timeout=RELOAD_WAIT_S if wait else 0):
            return False
        try:
            current = self.pipeline
            if current is None or current.index.version == live:
                return False  # another thread (a write of our own, a reload) got there first
            index = current.store.load(current.embedder, current.analyzer)
            self._swap(index)
        except StoreUnavailableError:
            raise  # passing: the next request or poll tries again
        except RagError as exc:
            if self._unloadable != live:
                log.info("rag: not reloading %s yet: %s", live, exc)
                self._unloadable = live
            return False
        finally:
            self._writes.release()
        log.info("rag: reloaded the index %s (%s documents)", index.version, len(index.documents))
        return True

    def _swap(self, index: LoadedIndex) -> None:
        self.pipeline = self._ready().with_index(index)

    def _ready(self) -> Pipeline:
        if self.pipeline is None:
            raise ServiceUnavailableError(self.error or "The service has not finished loading.")
        return self.pipeline

    def load(self) -> None:
        started = time.perf_counter()
        try:
            settings = self.settings = self.settings or Settings()
            # Kept across attempts: a retry after a database outage reloads only the index.
            self._embedder = self._embedder or SerializedEmbedder(load_embedder(settings))
            pipeline = Pipeline.load(settings, embedder=self._embedder)
            # The first call initialises lazy state: pay it here, not in a client's request.
            pipeline.ask(WARM_UP_QUESTION[: settings.max_question_chars])
        except ValidationError as exc:
            self.reason = "invalid_settings"
            self.error = f"Invalid RAG_* setting: {describe_settings_error(exc)}"
        except RagError as exc:
            self.reason, self.error = error_code(exc), str(exc)
        except Exception as exc:  # a broken model folder, ...
            self.reason = "load_failed"
            self.error = f"Loading failed: {type(exc).__name__}: {exc}"
        else:
            self.pipeline = pipeline
            self.reason = self.error = None
            self.load_seconds = round(time.perf_counter() - started, 3)
            manifest = pipeline.index.manifest
            log.info(
                "rag: loaded %s documents, %s chunks, model %s, %s index %s in %.1f s",
                manifest["index"]["documents"],
                manifest["index"]["chunks"],
                pipeline.embedder.model_id,
                pipeline.store.name,
                pipeline.index.version,
                self.load_seconds,
            )
            return
        if self.reason == "store_unavailable":
            log.error(
                "rag: the service is not ready, retrying every %g s: %s", RETRY_LOAD_S, self.error
            )
        else:
            log.error("rag: the service is not ready: %s", self.error)


async def watch_index(service: Service) -> None:
    """Poll the index's CURRENT pointer and swap in builds made by other processes; runs for
    the server's lifetime (cancelled at shutdown)."""
    interval = service.settings.reload_poll_seconds if service.settings else 1.0
    failing: str | None = None  # the error being reported, logged once until it clears
    while True:
        await anyio.sleep(interval)
        if service.pipeline is None:
            if service.reason == "store_unavailable":  # the database was down at start-up
                await anyio.sleep(max(RETRY_LOAD_S - interval, 0))
                await anyio.to_thread.run_sync(service.load)
            continue
        try:
            await anyio.to_thread.run_sync(service.refresh)
        except RagError as exc:  # the database is down, ...: one line, not one per poll
            if str(exc) != failing:
                log.warning("rag: cannot check for a newer index: %s", exc)
                failing = str(exc)
            continue
        except Exception:  # never let the watcher die: log and keep watching
            log.exception("rag: index reload failed")
        if failing is not None:
            log.info("rag: the index store answers again")
            failing = None


async def get_service(request: Request) -> Service:
    return cast(Service, request.app.state.service)


def not_ready(service: Service) -> ServiceUnavailableError:
    if service.reason is None:
        return ServiceUnavailableError("loading", "The service has not finished loading.")
    return ServiceUnavailableError(service.reason, service.error)


async def get_settings(service: Annotated[Service, Depends(get_service)]) -> Settings:
    if service.settings is None:
        raise not_ready(service)
    return service.settings


async def get_pipeline(service: Annotated[Service, Depends(get_service)]) -> Pipeline:
    pipeline = service.pipeline
    if pipeline is None:
        raise not_ready(service)
    if pipeline.store.shared:
        # A shared store (the database) may have a newer version written through another
        # worker: one small query per request, so every request sees every committed write.
        await anyio.to_thread.run_sync(functools.partial(service.refresh, wait=True))
        pipeline = service.pipeline or pipeline
    return pipeline


async def get_answer_counter(request: Request) -> Counter:
    """rag_answers{endpoint, abstained}, one per app (its own Prometheus registry)."""
    return cast(Counter, request.app.state.answers)


_bearer = HTTPBearer(auto_error=False, description="The server's RAG_API_KEY, when it sets one.")


async def require_api_key(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    expected = settings.api_key
    if not expected:
        return
    if credentials is None:
        raise AuthenticationError("Missing API key: send the header 'Authorization: Bearer <key>'.")
    if not key_matches(credentials.credentials, expected):
        raise AuthenticationError("Invalid API key.")


async def require_write_access(settings: Annotated[Settings, Depends(get_settings)]) -> None:
    """Writes need the API key (checked by `require_api_key` on every route); with no key
    configured they are refused unless RAG_ALLOW_UNAUTHENTICATED_WRITES says otherwise."""
    if settings.api_key or settings.allow_unauthenticated_writes:
        return
    raise WritesDisabledError(
        "Changing the articles needs an API key: start the server with RAG_API_KEY set and "
        "send 'Authorization: Bearer <key>' (or set RAG_ALLOW_UNAUTHENTICATED_WRITES=true on a "
        "trusted machine)."
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[Service, Depends(get_service)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
AnswerCounterDep = Annotated[Counter, Depends(get_answer_counter)]

# Documented on every protected route.
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
