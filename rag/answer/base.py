"""The answer stage's role: read the retrieved passages, answer with citations or abstain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from rag.types import Citation, Retrieval


@dataclass
class Selection:
    """What an answer stage decided. `text` holds the `[n]` markers of `citations`."""

    abstained: bool
    text: str
    citations: list[Citation]
    # Stage-specific scoring detail (the learned stage's candidates, in passage order), for
    # debugging and evaluation; may be empty.
    candidates: list[Any]


class Answerer(Protocol):
    """Pluggable answer stage: the extractive one, or e.g. an LLM-backed one. Called from
    several threads at once by the HTTP API: keep per-question state local."""

    def answer(self, question: str, retrieval: Retrieval) -> Selection: ...
