"""Slow tier: the full system's evaluation figures must not fall below today's.

TODAY holds the figures measured with `rag eval --dataset eval/dev.jsonl` and
`rag eval --dataset eval/own.jsonl` (real model) when the thresholds were last set. The
answer model is fit on these sets too (`rag train`), so these are in-sample figures: a guard
against a change that breaks answers, not an estimate of quality on unseen questions (that is
the cross-validation in rag/answer/answer-model.md). A figure
may drop by one question's worth on the dev set and by two on the own set (looser: it was
written to probe weak spots) before the test fails; false abstention may rise as much.
Raise TODAY when the system improves; a failure means a change made answers worse.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.eval import PipelineSystem, SystemReport, evaluate, load_dataset
from rag.pipeline import Pipeline
from tests.conftest import DEV_SET

pytestmark = pytest.mark.slow

OWN_SET = Path(__file__).resolve().parents[2] / "eval" / "own.jsonl"
EPS = 1e-9

TODAY = {
    DEV_SET: {
        "answer_accuracy": 13 / 14,
        "citation_recall": 13 / 14,
        "citation_precision": 0.75,
        "abstention_recall": 2 / 2,
        "recall_at_5": 14 / 14,
        "recall_at_10": 14 / 14,
        "mrr": 0.952,
        "ndcg_at_10": 0.933,
    },
    OWN_SET: {
        # citation recall 29/33 and precision 0.682 until the last part of a two-part question
        # picked a sentence of its own (out of fold over all sets: citation recall 0.796 ->
        # 0.790, answer accuracy 0.593 -> 0.611)
        "answer_accuracy": 24 / 33,
        "citation_recall": 28 / 33,
        "citation_precision": 0.667,
        # 1/10 while the answerable head was linear in its signals; 6/10 since it reads their
        # pairwise products too (rag/answer/model.py: PairwiseHead). Out of fold over all sets
        # that head took abstention recall 0.216 -> 0.324 (docs/eval.md).
        "abstention_recall": 6 / 10,
        "recall_at_5": 31 / 33,
        "recall_at_10": 33 / 33,
        "mrr": 0.931,
        "ndcg_at_10": 0.93,
    },
}
ALLOWED_DROP = {DEV_SET: 1, OWN_SET: 2}  # in answerable questions
# In unanswerable questions, kept apart because the two counts differ (2 and 10 against 14 and
# 33): the own set's abstention floor is 4/10, the dev set's 1/2.
ABSTENTION_DROP = {DEV_SET: 1, OWN_SET: 2}


def check(pipeline: Pipeline, path: Path) -> SystemReport:
    report = evaluate(PipelineSystem(pipeline), load_dataset(path))
    assert report.n_failed == 0
    slack = ALLOWED_DROP[path]
    drops = []
    for name, today in TODAY[path].items():
        # Abstention recall counts unanswerable questions, everything else answerable ones.
        abstention = name == "abstention_recall"
        n = report.n_unanswerable if abstention else report.n_answerable
        floor = today - (ABSTENTION_DROP[path] if abstention else slack) / n
        value = getattr(report, name)
        if value is None or value < floor - EPS:
            drops.append(f"{name} = {value} < {floor:.3f} (today {today:.3f})")
    false_abstention = report.false_abstention or 0.0
    if false_abstention > slack / report.n_answerable + EPS:
        drops.append(f"false_abstention = {false_abstention:.3f} (today 0)")
    assert not drops, f"{path.name}: " + "; ".join(drops)
    return report


def test_dev_set_figures_hold(real_pipeline: Pipeline) -> None:
    report = check(real_pipeline, DEV_SET)
    assert report.n_questions == 16


def test_own_set_figures_hold(real_pipeline: Pipeline) -> None:
    report = check(real_pipeline, OWN_SET)
    assert report.n_questions == 43
    # The categories the set was written to probe must not collapse either (today:
    # noisy-query 6/6, factoid 13/15, multi-hop 3/6, temporal-conflict 2/6).
    by_type = report.by_type
    assert (by_type["noisy-query"].answer_accuracy or 0) >= 5 / 6 - EPS
    assert (by_type["factoid"].answer_accuracy or 0) >= 12 / 15 - EPS
    assert (by_type["multi-hop"].answer_accuracy or 0) >= 2 / 6 - EPS
    assert (by_type["temporal-conflict"].answer_accuracy or 0) >= 1 / 6 - EPS
