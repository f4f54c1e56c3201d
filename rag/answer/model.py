"""The answer model: three logistic-regression heads stored as JSON (no pickle).

`sentence` scores a candidate sentence (does it hold the answer?) from `FEATURES`;
`complement` says whether a second sentence completes the first one's answer; `answerable`
turns the question-level evidence (best scores, coverage, unknown entities) into the
probability that the articles answer at all. The first two are standardised linear models;
`answerable` is one over its signals and every product of two of them (a high best score
means less when the expected answer type is missing, say). The file is a few hundred numbers
that `rag train` reproduces (to `same_fit`'s tolerance).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelLoadError
from rag.text.tokens import TERMS_VERSION

MODEL_FORMAT = 2  # 2: the answerable head reads pairwise products
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "answer-model.json"  # `rag train` writes it


@dataclass(frozen=True)
class LinearHead:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ValueError("answer model head: feature, mean, scale and coef lengths differ")
        _check_spread(self.scale)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(positive) for each row of x (n_rows x n_features)."""
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = z @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))


def _check_spread(values: tuple[float, ...]) -> None:
    # a zero or NaN scale would make every probability NaN, and NaN never abstains
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError("answer model head: a scale or spread is not a positive number")


def pairwise_names(signals: tuple[str, ...]) -> tuple[str, ...]:
    """The inputs of a `PairwiseHead`'s linear part: each signal, then each product of two."""
    return (*signals, *(f"{a}*{b}" for a, b in combinations(signals, 2)))


def expand_pairwise(
    x: np.ndarray, centre: tuple[float, ...], spread: tuple[float, ...]
) -> np.ndarray:
    """Standardised signals and every product of two of them, one row per row of x (a 1-D x
    is one row)."""
    z = (np.atleast_2d(x) - np.asarray(centre)) / np.asarray(spread)
    first, second = np.triu_indices(z.shape[1], k=1)  # the pairs in `combinations` order
    return np.hstack([z, z[:, first] * z[:, second]])


@dataclass(frozen=True)
class PairwiseHead:
    """A logistic regression over standardised signals and their pairwise products."""

    signals: tuple[str, ...]
    centre: tuple[float, ...]
    spread: tuple[float, ...]
    linear: LinearHead  # over `pairwise_names(signals)`

    def __post_init__(self) -> None:
        if not (len(self.centre) == len(self.spread) == len(self.signals)):
            raise ValueError("answer model head: signal, centre and spread lengths differ")
        if self.linear.features != pairwise_names(self.signals):
            raise ValueError("answer model head: its linear part reads other inputs")
        _check_spread(self.spread)

    @property
    def features(self) -> tuple[str, ...]:
        """What a row passed to `probability` holds, as `LinearHead.features` says."""
        return self.signals

    def probability(self, x: np.ndarray) -> np.ndarray:
        return self.linear.probability(expand_pairwise(x, self.centre, self.spread))


@dataclass(frozen=True)
class AnswerModel:
    sentence: LinearHead
    answerable: PairwiseHead
    complement: LinearHead  # does a second sentence complete the first one's answer?
    # Thresholds chosen out of fold by `rag train` (rag/answer/train.py: FALSE_ABSTENTION_BUDGET,
    # MEDIAN_ANSWER_BUDGET).
    abstain_below: float  # P(answerable) under this: abstain
    second_min: float  # a second sentence joins when its complement probability reaches this
    training: dict[str, Any] = field(default_factory=dict)
    format: int = MODEL_FORMAT
    # how the terms its features count were written (rag.text.tokens): coverage and unknown
    # terms read differently under other rules, so a model fit under them must be refit
    terms: int = TERMS_VERSION

    @classmethod
    def untrained(cls) -> AnswerModel:
        """Every score 0.5: what `rag train` runs the pipeline with while it fits the heads."""
        from rag.answer.features import FEATURES
        from rag.answer.learned import ANSWERABLE_FEATURES, COMPLEMENT_FEATURES

        def zero(names: tuple[str, ...]) -> LinearHead:
            n = len(names)
            return LinearHead(names, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0)

        n = len(ANSWERABLE_FEATURES)
        answerable = PairwiseHead(
            ANSWERABLE_FEATURES, (0.0,) * n, (1.0,) * n, zero(pairwise_names(ANSWERABLE_FEATURES))
        )
        return cls(zero(FEATURES), answerable, zero(COMPLEMENT_FEATURES), 0.0, 1.01)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> AnswerModel:
        raw = json.loads(text)
        if raw.get("format") != MODEL_FORMAT:
            raise ValueError(f"answer model format {raw.get('format')} (expected {MODEL_FORMAT})")
        terms = raw.get("terms", 1)  # files from before terms were versioned: version 1
        if terms != TERMS_VERSION:
            raise ValueError(f"answer model fit with term rules {terms} (expected {TERMS_VERSION})")

        def head(h: dict[str, Any]) -> LinearHead:
            return LinearHead(
                tuple(h["features"]),
                tuple(float(v) for v in h["mean"]),
                tuple(float(v) for v in h["scale"]),
                tuple(float(v) for v in h["coef"]),
                float(h["intercept"]),
            )

        def pairwise(h: dict[str, Any]) -> PairwiseHead:
            return PairwiseHead(
                tuple(h["signals"]),
                tuple(float(v) for v in h["centre"]),
                tuple(float(v) for v in h["spread"]),
                head(h["linear"]),
            )

        return cls(
            sentence=head(raw["sentence"]),
            answerable=pairwise(raw["answerable"]),
            complement=head(raw["complement"]),
            abstain_below=float(raw["abstain_below"]),
            second_min=float(raw["second_min"]),
            training=raw.get("training", {}),
        )

    @classmethod
    def load(cls, path: Path | None = None) -> AnswerModel:
        path = path or DEFAULT_MODEL_PATH
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(
                f"Cannot read the answer model {path.name} ({exc}). Run `make train` to "
                "rebuild it, or point RAG_ANSWER_MODEL_PATH at a valid file."
            ) from exc


def same_fit(a: AnswerModel, b: AnswerModel, tolerance: float = 1e-4) -> bool:
    """Whether two models are one fit (numbers equal to `tolerance`: another CPU may round an
    embedding's last digit differently); the training record is not compared."""

    def close(x: Any, y: Any) -> bool:
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
        if isinstance(x, list | tuple) and isinstance(y, list | tuple):
            return len(x) == len(y) and all(close(u, v) for u, v in zip(x, y, strict=True))
        if isinstance(x, float | int) and isinstance(y, float | int):
            return abs(float(x) - float(y)) <= tolerance * max(1.0, abs(float(x)))
        return bool(x == y)

    return close(
        {k: v for k, v in asdict(a).items() if k != "training"},
        {k: v for k, v in asdict(b).items() if k != "training"},
    )


def model_sha256(path: Path | None = None) -> str:
    """Hash of the answer model file (recorded in the index manifest); "missing" if absent."""
    try:
        return hashlib.sha256((path or DEFAULT_MODEL_PATH).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def rounded(values: Any, digits: int = 6) -> tuple[float, ...]:
    """Stable JSON: the same fit always writes the same bytes."""
    out = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        r = round(float(v), digits)
        out.append(0.0 if r == 0 or math.isnan(r) else r)
    return tuple(out)
