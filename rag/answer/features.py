"""Features of a (question, candidate sentence) pair, read by the answer model's sentence head.

Each is general — similarity, coverage, answer type, question form against sentence cues,
where the sentence stands — and none names a question, an article or a phrase; the weights
come from `rag train`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.analyze import QuestionAnalysis, SentenceAnnotation
from rag.text import Lexicon
from rag.text.tokens import fold
from rag.types import Role

# Below this a "sentence" is usually a fragment (a label, a one-line quote); the feature
# "short" lets the model learn how much that matters.
SHORT_SENTENCE_CHARS = 50
# Bylines and authors' notes: who wrote the article, not its prose.
AUTHOR_ROLES = frozenset({Role.BYLINE, Role.AUTHOR_BIO})

FEATURES: tuple[str, ...] = (
    "dense",
    "dense_gap",
    "dense_rank",
    "dense_context",
    "passage_rank",
    "coverage",
    "coverage_gap",
    "coverage_context",
    "pair_match",
    "entity_match",
    "focus_match",
    "type_match",
    "type_missing",
    "novel_entities",
    "log_length",
    "short",
    "first_in_article",
    "why_x_causal",
    "opinion_x_quote",
    "opinion_x_reporting",
    "definition_x_defines",
    "who_x_person",
    "yesno_x_negated",
    "change_x_date",
    "is_question",
    "focus_x_type",
    "focus_counted",
    "author_line",
    "author_question_x_author_line",
)


@dataclass
class CandidateView:
    """One candidate sentence with what the features need beyond its annotation."""

    sent_id: int
    doc_id: str
    terms: tuple[str, ...]
    annotation: SentenceAnnotation
    text: str
    matchable: str  # the text folded and lower-cased, as entity names are (rag.text.fold)
    dense: float
    context_dense: float
    passage_rank: int
    context_terms: frozenset[str]
    first_in_article: bool
    vector: np.ndarray  # the sentence's embedding (unit length)
    role: Role = Role.BODY  # what the line is on its page (body, byline, author's note)


def coverage(weights: Mapping[str, float], terms: frozenset[str] | set[str]) -> float:
    """Share of the question's term weight found in `terms`."""
    total = sum(weights.values())
    return sum(v for t, v in weights.items() if t in terms) / total if total else 0.0


def term_weights(q: QuestionAnalysis, lexicon: Lexicon) -> dict[str, float]:
    """The question's terms, each weighted by its IDF in the corpus."""
    return {t: lexicon.idf(t) for t in dict.fromkeys(q.terms)}


def featurize(q: QuestionAnalysis, cands: Sequence[CandidateView], lexicon: Lexicon) -> np.ndarray:
    """One row of `FEATURES` per candidate."""
    weights = term_weights(q, lexicon)
    pairs = {(a, b) for a, b in zip(q.terms, q.terms[1:], strict=False)}
    # entity names come folded from the annotator; texts are compared folded too
    q_entities = {text for _, text in q.entities}
    q_lower = fold(q.text).lower()
    dense = np.array([c.dense for c in cands], dtype=np.float32)
    order = np.argsort(-dense, kind="stable")
    dense_rank = np.empty(len(cands), dtype=np.float32)
    dense_rank[order] = np.arange(len(cands), dtype=np.float32)
    covs = [coverage(weights, set(c.terms)) for c in cands]
    best_cov = max(covs, default=0.0)
    best_dense = float(dense.max()) if len(cands) else 0.0
    rows = []
    for i, c in enumerate(cands):
        a = c.annotation
        sterms = set(c.terms)
        spairs = set(zip(c.terms, c.terms[1:], strict=False))
        new_entity_types = [typ for typ, text in a.entities if text not in q_lower]
        stypes = set(new_entity_types)
        novel = len(new_entity_types)
        type_match = bool(q.expects) and bool(stypes & set(q.expects))
        rows.append(
            [
                c.dense,
                c.dense - best_dense,
                1.0 / (1.0 + dense_rank[i]),
                c.context_dense,
                1.0 / (1.0 + c.passage_rank),
                covs[i],
                covs[i] - best_cov,
                coverage(weights, c.context_terms),
                len(pairs & spairs) / len(pairs) if pairs else 0.0,
                (
                    sum(1 for e in q_entities if e in c.matchable) / len(q_entities)
                    if q_entities
                    else 0.0
                ),
                float(bool(q.focus) and bool(set(q.focus) & sterms)),
                float(type_match),
                float(bool(q.expects) and not type_match),
                math.log1p(novel),
                math.log(max(len(c.text), 1)),
                float(len(c.text) < SHORT_SENTENCE_CHARS),
                float(c.first_in_article),
                float(q.form == "why" and a.causal),
                float(q.opinion and a.quote),
                float(q.opinion and a.reporting),
                float(q.definition and bool(set(q.defined) & set(a.defines))),
                float(q.form == "who" and "person" in stypes),
                float(q.form == "yes-no" and a.negated),
                float(q.change and any(t == "date" for t, _ in a.entities)),
                float(c.text.rstrip().endswith("?")),
                float(type_match and bool(set(q.focus) & (sterms | c.context_terms))),
                float(q.form == "how-many" and bool(set(q.focus) & set(a.counted))),
                float(c.role in AUTHOR_ROLES),
                # an author line answers "who wrote it"; "who is X" only when it is about X:
                # a byline naming X, or a note describing X (a note describing its author
                # may name X in a book title)
                float(
                    c.role in AUTHOR_ROLES
                    and (
                        q.about_author
                        or (
                            q.definition
                            and bool(q.defined)
                            and set(q.defined)
                            <= (sterms if c.role is Role.BYLINE else set(a.defines))
                        )
                    )
                ),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(cands), len(FEATURES))
