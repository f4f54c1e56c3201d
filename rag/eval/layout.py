"""How well the line-role detector (rag/ingest/layout.py) does against hand-labelled pages.

Labels are `[line prefix, role]` pairs for the non-body lines of a page (every other non-blank
line is body). Furniture means a role that is never indexed (not in INDEXED_ROLES), so
precision and recall say how much page furniture is kept out of answers and how much prose is
wrongly thrown away.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rag.ingest.layout import analyse_page, lines_of
from rag.types import INDEXED_ROLES, Role


@dataclass
class RoleScore:
    lines: int = 0
    role_correct: int = 0
    true_furniture: int = 0  # furniture lines found
    predicted_furniture: int = 0
    actual_furniture: int = 0
    mistakes: list[str] = field(default_factory=list)  # "file: 'line' expected X got Y"

    @property
    def precision(self) -> float:
        return self.true_furniture / self.predicted_furniture if self.predicted_furniture else 1.0

    @property
    def recall(self) -> float:
        return self.true_furniture / self.actual_furniture if self.actual_furniture else 1.0

    @property
    def role_accuracy(self) -> float:
        return self.role_correct / self.lines if self.lines else 1.0

    def add(self, other: RoleScore) -> RoleScore:
        return RoleScore(
            self.lines + other.lines,
            self.role_correct + other.role_correct,
            self.true_furniture + other.true_furniture,
            self.predicted_furniture + other.predicted_furniture,
            self.actual_furniture + other.actual_furniture,
            self.mistakes + other.mistakes,
        )


def expected_roles(text: str, labels: list[list[str]]) -> list[Role]:
    """A role per non-blank line from the labels; ValueError if a label matches no line."""
    lines = [line.strip() for _, _, line in lines_of(text) if line.strip()]
    roles = [Role.BODY] * len(lines)
    cursor = 0
    for prefix, role in labels:
        while cursor < len(lines) and not lines[cursor].startswith(prefix):
            cursor += 1
        if cursor == len(lines):
            raise ValueError(f"label {prefix!r} matches no line")
        roles[cursor] = Role(role)
        cursor += 1
    return roles


def score_page(name: str, text: str, labels: list[list[str]]) -> RoleScore:
    expected = expected_roles(text, labels)
    found = [span.role for span in analyse_page(text).roles]
    shown = [line.strip() for _, _, line in lines_of(text) if line.strip()]
    score = RoleScore(lines=len(expected))
    for line, want, got in zip(shown, expected, found, strict=True):
        want_junk, got_junk = want not in INDEXED_ROLES, got not in INDEXED_ROLES
        score.role_correct += want == got
        score.actual_furniture += want_junk
        score.predicted_furniture += got_junk
        score.true_furniture += want_junk and got_junk
        if want != got:
            score.mistakes.append(f"{name}: {line[:60]!r} labelled {want}, detected {got}")
    return score


def score_fixture(fixture: Path, root: Path) -> dict[str, RoleScore]:
    """Scores by folder of the labelled files ("eval/corpus-dev/articles", "seeds")."""
    labels = json.loads(fixture.read_text(encoding="utf-8"))
    out: dict[str, RoleScore] = {}
    for rel, page_labels in labels.items():
        if rel.startswith("_"):
            continue
        path = root / rel
        score = score_page(path.name, path.read_bytes().decode("utf-8"), page_labels)
        group = str(Path(rel).parent)
        out[group] = out.get(group, RoleScore()).add(score)
    return out
