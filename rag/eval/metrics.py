"""Evaluation: load a question set, run a system over it, score it the shared way.

Scoring follows the conventions of the shared eval README (same names, so figures compare):

* answer_accuracy: answerable questions answered (not abstained) with every key-fact group
  present (case-insensitive substring of the answer text; one alternative per group suffices).
* citation_recall: answerable questions with at least one citation overlapping an evidence
  span of the same document (half-open ``[start, end)``: touching spans do not overlap).
* citation_precision: over answered answerable questions, the mean share of citations that
  overlap an evidence span (an answer without citations scores 0).
* abstention_recall / false_abstention: abstained on unanswerable / on answerable questions.
* recall_at_k, mrr, ndcg_at_10: over answerable questions, from the retrieved passages (best
  first, at least 10 retrieved): a passage is relevant when it overlaps an evidence span.
  nDCG uses binary gains; the ideal ranking puts max(#evidence spans, #relevant retrieved)
  relevant passages first (capped at 10), so the score never exceeds 1 even when two
  overlapping chunks both touch one evidence span.
* median_answer_chars over answered questions; latency_p50_ms / latency_p95_ms over
  questions whose request succeeded.

A failed request (connection error, HTTP error, unreadable reply) is neither an answer nor an
abstention: the question scores 0 everywhere it counts and is listed with its error.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, model_validator

from rag.eval.dataset import EvalItem, Evidence
from rag.types import Citation

RETRIEVAL_DEPTH = 10  # recall@10 and nDCG@10 need ten passages
RECALL_KS = (1, 4, 5, 10)  # 4: LangChain's default k, for comparison with its stock pipeline


# --- what a system returns for one question ---------------------------------------------


class SpanRef(BaseModel):
    doc_id: str
    start: int
    end: int
    text: str = ""


def cited_spans(citations: Sequence[Citation]) -> list[SpanRef]:
    """An answer's citations as the spans scoring compares with the evidence."""
    return [SpanRef(doc_id=c.doc_id, start=c.start, end=c.end, text=c.quote) for c in citations]


class SystemOutput(BaseModel):
    answer: str = ""
    abstained: bool = False
    citations: list[SpanRef] = Field(default_factory=list)
    ranking: list[SpanRef] = Field(default_factory=list)  # retrieved passages, best first
    latency_ms: float | None = None
    error: str | None = None  # the request failed: no answer at all


# --- scoring primitives -------------------------------------------------------------------


def overlaps(doc_a: str, start_a: int, end_a: int, doc_b: str, start_b: int, end_b: int) -> bool:
    """Same document and half-open ranges sharing at least one character."""
    return doc_a == doc_b and start_a < end_b and start_b < end_a


def on_evidence(span: SpanRef, evidence: Sequence[Evidence]) -> bool:
    return any(overlaps(span.doc_id, span.start, span.end, e.doc, e.start, e.end) for e in evidence)


def missing_key_facts(answer: str, key_facts: Sequence[Sequence[str]]) -> list[list[str]]:
    """The groups none of whose alternatives occurs in the answer (case-insensitive)."""
    text = answer.casefold()
    return [list(group) for group in key_facts if not any(a.casefold() in text for a in group)]


def first_relevant_rank(relevant: Sequence[bool]) -> int | None:
    return next((rank for rank, hit in enumerate(relevant, start=1) if hit), None)


def recall_at(relevant: Sequence[bool], k: int) -> float:
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    rank = first_relevant_rank(relevant)
    return 1.0 / rank if rank else 0.0


def ndcg_at(relevant: Sequence[bool], n_evidence: int, k: int = RETRIEVAL_DEPTH) -> float:
    """Binary-gain nDCG@k; the ideal ranking holds max(n_evidence, relevant found) hits."""
    top = list(relevant[:k])
    dcg = sum(1.0 / math.log2(rank + 1) for rank, hit in enumerate(top, start=1) if hit)
    n_ideal = min(max(n_evidence, sum(top)), k)
    idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, n_ideal + 1))
    return dcg / idcg if idcg else 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


# --- per-question and aggregate results ---------------------------------------------------


class CitationCheck(BaseModel):
    doc_id: str
    start: int
    end: int
    quote: str
    on_evidence: bool


class RankedCheck(BaseModel):
    rank: int
    doc_id: str
    start: int
    end: int
    relevant: bool


class QuestionResult(BaseModel):
    id: str
    type: str
    question: str
    answerable: bool
    reference: str
    answer: str
    abstained: bool
    failed: bool
    error: str | None
    correct: bool  # answerable: answered with all key facts; unanswerable: abstained
    miss: bool  # wrong, or a citation off the evidence: worth a person's look
    reasons: list[str]
    missing_key_facts: list[list[str]]
    citations: list[CitationCheck]
    gold: list[Evidence]
    retrieved: list[RankedCheck]
    first_relevant_rank: int | None
    citation_hit: bool | None  # answerable only
    citation_precision: float | None  # answered answerable only
    ndcg_at_10: float | None
    latency_ms: float | None


class Metrics(BaseModel):
    n_questions: int
    n_answerable: int
    n_unanswerable: int
    n_failed: int
    answer_accuracy: float | None
    citation_recall: float | None
    citation_precision: float | None
    abstention_recall: float | None
    false_abstention: float | None
    recall_at_1: float | None
    recall_at_4: float | None
    recall_at_5: float | None
    recall_at_10: float | None
    mrr: float | None
    ndcg_at_10: float | None
    median_answer_chars: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None


METRIC_NAMES: tuple[str, ...] = tuple(
    name for name in Metrics.model_fields if not name.startswith("n_")
)


class SystemReport(Metrics):
    """One system's figures overall (flat, under the shared names), by type, per question."""

    system: str
    description: str
    by_type: dict[str, Metrics]
    questions: list[QuestionResult]


class RunReport(BaseModel):
    dataset: str
    target: str  # "library" or the service URL
    model: str | None
    top_k: int | None
    primary_system: str  # the system under test; the others are baselines
    systems: list[SystemReport]  # in table order

    @model_validator(mode="after")
    def _has_primary(self) -> RunReport:
        if not any(s.system == self.primary_system for s in self.systems):
            raise ValueError(f"no results for the primary system {self.primary_system!r}")
        return self

    @property
    def primary(self) -> SystemReport:
        return next(s for s in self.systems if s.system == self.primary_system)

    @property
    def baselines(self) -> list[SystemReport]:
        return [s for s in self.systems if s.system != self.primary_system]

    def to_json(self) -> dict[str, Any]:
        """The primary system's figures at the top level, the others under "baselines"."""
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "target": self.target,
            "model": self.model,
            "top_k": self.top_k,
        }
        out.update(self.primary.model_dump())
        out["baselines"] = {s.system: s.model_dump() for s in self.baselines}
        return out


def score_question(item: EvalItem, output: SystemOutput) -> QuestionResult:
    failed = output.error is not None
    abstained = output.abstained and not failed
    answered = not failed and not abstained
    cites = [
        CitationCheck(
            doc_id=c.doc_id,
            start=c.start,
            end=c.end,
            quote=c.text,
            on_evidence=on_evidence(c, item.evidence),
        )
        for c in output.citations
    ]
    relevant = [on_evidence(p, item.evidence) for p in output.ranking]
    retrieved = [
        RankedCheck(rank=i, doc_id=p.doc_id, start=p.start, end=p.end, relevant=hit)
        for i, (p, hit) in enumerate(zip(output.ranking, relevant, strict=True), start=1)
    ]
    reasons: list[str] = []
    missing: list[list[str]] = []
    citation_hit: bool | None = None
    precision: float | None = None
    ndcg: float | None = None
    rank: int | None = None
    if failed:
        reasons.append(f"request failed: {output.error}")
    if item.answerable:
        missing = missing_key_facts(output.answer, item.key_facts) if answered else []
        correct = answered and not missing
        citation_hit = any(c.on_evidence for c in cites)
        if answered:
            precision = sum(c.on_evidence for c in cites) / len(cites) if cites else 0.0
        rank = first_relevant_rank(relevant)
        ndcg = ndcg_at(relevant, len(item.evidence))
        if abstained:
            reasons.append("abstained on an answerable question")
        if missing:
            shown = "; ".join(" | ".join(repr(a) for a in group) for group in missing)
            reasons.append(f"missing key facts: {shown}")
        if answered and not cites:
            reasons.append("answered without citations")
        elif answered and not citation_hit:
            reasons.append("no citation overlaps the evidence")
        elif answered and precision is not None and precision < 1:
            off = sum(not c.on_evidence for c in cites)
            reasons.append(f"{off} of {len(cites)} citations off the evidence")
        if rank is None and output.ranking:
            reasons.append(f"no retrieved passage (of {len(output.ranking)}) overlaps the evidence")
    else:
        correct = abstained
        if answered:
            reasons.append("answered an unanswerable question (should abstain)")
    miss = not correct or bool(reasons)
    return QuestionResult(
        id=item.id,
        type=item.type,
        question=item.question,
        answerable=item.answerable,
        reference=item.answer,
        answer=output.answer,
        abstained=abstained,
        failed=failed,
        error=output.error,
        correct=correct,
        miss=miss,
        reasons=reasons,
        missing_key_facts=missing,
        citations=cites,
        gold=list(item.evidence),
        retrieved=retrieved,
        first_relevant_rank=rank,
        citation_hit=citation_hit,
        citation_precision=precision,
        ndcg_at_10=ndcg,
        latency_ms=None if failed else output.latency_ms,
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate(results: Sequence[QuestionResult]) -> Metrics:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    answered = [r for r in results if not r.abstained and not r.failed]
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    recall = {
        k: _mean(
            [
                float(r.first_relevant_rank is not None and r.first_relevant_rank <= k)
                for r in answerable
            ]
        )
        for k in RECALL_KS
    }
    return Metrics(
        n_questions=len(results),
        n_answerable=len(answerable),
        n_unanswerable=len(unanswerable),
        n_failed=sum(r.failed for r in results),
        answer_accuracy=_mean([float(r.correct) for r in answerable]),
        citation_recall=_mean([float(bool(r.citation_hit)) for r in answerable]),
        citation_precision=_mean(
            [r.citation_precision for r in answerable if r.citation_precision is not None]
        ),
        abstention_recall=_mean([float(r.abstained) for r in unanswerable]),
        false_abstention=_mean([float(r.abstained) for r in answerable]),
        recall_at_1=recall[1],
        recall_at_4=recall[4],
        recall_at_5=recall[5],
        recall_at_10=recall[10],
        mrr=_mean(
            [1.0 / r.first_relevant_rank if r.first_relevant_rank else 0.0 for r in answerable]
        ),
        ndcg_at_10=_mean([r.ndcg_at_10 or 0.0 for r in answerable]),
        median_answer_chars=(
            float(statistics.median(len(r.answer) for r in answered)) if answered else None
        ),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )
