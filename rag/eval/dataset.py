"""The question set: JSONL lines of id, question, answerable, answer, key_facts, evidence, type
(format in eval/README.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from rag.errors import DatasetError
from rag.text.valid import text_problem
from rag.types import Document


class Evidence(BaseModel):
    doc: str
    quote: str = ""
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Evidence:
        if self.end < self.start:
            raise ValueError(f"evidence end {self.end} is before its start {self.start}")
        return self


class EvalItem(BaseModel):
    id: str
    question: str
    answerable: bool
    answer: str = ""
    key_facts: list[list[str]] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    type: str = "unknown"

    @field_validator("id", "question", "answer")
    @classmethod
    def _valid_text(cls, value: str) -> str:
        problem = text_problem(value)
        if problem:
            raise ValueError(f"not valid text: {problem}")
        return value


def load_dataset(path: Path) -> list[EvalItem]:
    """Questions from a JSONL file; any bad line is an error naming the file and line."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DatasetError(f"dataset not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read dataset {path}: {exc}") from exc
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: expected a JSON object, got {type(data).__name__}")
        try:
            item = EvalItem.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'object'}: {err['msg']}"
                for err in exc.errors()
            )
            raise DatasetError(f"{where}: {problems}") from exc
        if item.id in seen:
            raise DatasetError(f"{where}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise DatasetError(f"{path} holds no questions")
    return items


def check_evidence(items: Sequence[EvalItem], documents: dict[str, Document]) -> list[str]:
    """Warnings for evidence that does not match the indexed articles (wrong file or offsets):
    such a question cannot be scored fairly, so people should see it before trusting figures."""
    out: list[str] = []
    for item in items:
        for ev in item.evidence:
            doc = documents.get(ev.doc)
            if doc is None:
                out.append(f"{item.id}: evidence names {ev.doc}, which is not in the index")
            elif ev.quote and doc.text[ev.start : ev.end] != ev.quote:
                out.append(f"{item.id}: evidence {ev.doc} [{ev.start}, {ev.end}) != its quote")
    return out
