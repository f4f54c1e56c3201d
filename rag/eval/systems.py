"""Systems under evaluation (the library pipeline, a running service) and the loop that runs
a question set through one of them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import ValidationError

from rag.errors import RagError
from rag.eval.dataset import EvalItem
from rag.eval.metrics import (
    RETRIEVAL_DEPTH,
    QuestionResult,
    SpanRef,
    SystemOutput,
    SystemReport,
    aggregate,
    cited_spans,
    score_question,
)
from rag.optional import require
from rag.pipeline import validate_question
from rag.progress import Reporter
from rag.types import Answer, Passage


class System(Protocol):
    name: str
    description: str

    def run(self, item: EvalItem) -> SystemOutput: ...


def evaluate(
    system: System, items: Sequence[EvalItem], reporter: Reporter | None = None
) -> SystemReport:
    """Run every question through `system` and score it, overall and by question type."""
    results: list[QuestionResult] = []
    label = f"eval {system.name}"
    if reporter:
        reporter.progress(label, 0, len(items), unit="q")
    for done, item in enumerate(items, start=1):
        results.append(score_question(item, system.run(item)))
        if reporter:
            reporter.progress(label, done, len(items), unit="q")
    types = sorted({r.type for r in results})
    overall = aggregate(results)
    return SystemReport(
        **overall.model_dump(),
        system=system.name,
        description=system.description,
        by_type={t: aggregate([r for r in results if r.type == t]) for t in types},
        questions=results,
    )


def _output(answer: Answer, ranking: Sequence[Passage], latency_ms: float) -> SystemOutput:
    """What scoring needs from an answer object, library or HTTP alike."""
    return SystemOutput(
        answer=answer.answer,
        abstained=answer.abstained,
        citations=cited_spans(answer.citations),
        ranking=_spans(ranking),
        latency_ms=latency_ms,
    )


def _spans(passages: Sequence[Passage]) -> list[SpanRef]:
    return [SpanRef(doc_id=p.doc_id, start=p.start, end=p.end, text=p.text) for p in passages]


class PipelineSystem:
    """The full system in-process: `pipeline.ask` answers exactly as in production, and a
    separate 10-deep retrieval feeds the ranking metrics (asking with top_k=10 would change
    the answer's candidate sentences)."""

    description = "full system: hybrid retrieval + extractive answer stage (library)"

    def __init__(self, pipeline: Any, top_k: int | None = None, name: str = "full") -> None:
        self.pipeline = pipeline
        self.top_k = top_k
        self.name = name

    def run(self, item: EvalItem) -> SystemOutput:
        try:
            question = validate_question(item.question, self.pipeline.settings)
            t0 = time.perf_counter()
            answer: Answer = self.pipeline.ask(question, self.top_k)
            latency = (time.perf_counter() - t0) * 1000
            depth = max(RETRIEVAL_DEPTH, self.top_k or 0)
            ranking = self.pipeline.retriever.retrieve(question, depth).passages
        except RagError as exc:  # e.g. an over-long question: that question fails, not the run
            return SystemOutput(error=f"{type(exc).__name__}: {exc}")
        return _output(answer, ranking, latency)


class RequestFailed(Exception):
    pass


class HttpSystem:
    """A running service: `POST /ask` for the answer, `POST /search` (top_k=10) for the
    ranking, falling back to the /ask passages when the service has no /search."""

    def __init__(
        self,
        base_url: str,
        top_k: int | None = None,
        api_key: str | None = None,
        client: Any = None,
        timeout: float = 60.0,
        name: str = "service",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.top_k = top_k
        self.name = name
        self.description = f"running service at {self.base_url} (POST /ask)"
        # httpx comes with the `eval` extra (and `dev`); a serving install does not need it.
        self._httpx = require("httpx", "eval", "Evaluating a running service (--against)")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or self._httpx.Client(timeout=timeout, headers=headers)
        if client is not None and headers:
            self.client.headers.update(headers)
        self.search_available = True
        self.notes: list[str] = []

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            response = self.client.post(f"{self.base_url}{path}", json=body)
        except self._httpx.HTTPError as exc:
            raise RequestFailed(f"POST {path}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            detail = response.text[:200].replace("\n", " ")
            raise RequestFailed(f"POST {path}: HTTP {response.status_code} {detail}".rstrip())
        try:
            return response.json()
        except ValueError as exc:
            raise RequestFailed(f"POST {path}: reply is not JSON") from exc

    def _ranking(self, question: str, fallback: list[Passage]) -> list[Passage]:
        if not self.search_available:
            return fallback
        depth = max(RETRIEVAL_DEPTH, self.top_k or 0)
        try:
            data = self._post("/search", {"query": question, "top_k": depth})
        except RequestFailed as exc:
            if " HTTP 404" in str(exc) or " HTTP 405" in str(exc):
                self.search_available = False
                self.notes.append("no /search on the service: ranking from /ask passages")
            else:
                self.notes.append(f"{str(exc)[:160]} (ranking from /ask passages)")
            return fallback
        raw = data.get("passages", data.get("results")) if isinstance(data, dict) else data
        try:
            return [Passage.model_validate(p) for p in raw or []]
        except ValidationError:
            self.notes.append("unreadable /search reply: ranking from /ask passages")
            return fallback

    def run(self, item: EvalItem) -> SystemOutput:
        body: dict[str, Any] = {"question": item.question}
        if self.top_k:
            body["top_k"] = self.top_k
        t0 = time.perf_counter()
        try:
            data = self._post("/ask", body)
            latency = (time.perf_counter() - t0) * 1000
            answer = Answer.model_validate(data)
        except RequestFailed as exc:
            return SystemOutput(error=str(exc))
        except ValidationError as exc:
            return SystemOutput(
                error=f"POST /ask: reply is not an answer object ({exc.error_count()} problems)"
            )
        return _output(answer, self._ranking(item.question, answer.passages), latency)
