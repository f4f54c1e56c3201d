"""Training data: other corpora's questions as unanswerable examples, kept out of the figures
for real questions."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rag.answer import AnswerModel
from rag.answer.model import LinearHead, PairwiseHead, expand_pairwise, pairwise_names
from rag.answer.train import (
    Corpus,
    cross_corpus_negatives,
    fit_head,
    fit_pairwise_head,
    is_synthetic,
    report,
    source_corpus,
)
from rag.eval.metrics import SystemOutput
from rag.pipeline import Pipeline


def _write(path: Path, items: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def _question(qid: str, question: str, facts: list[list[str]], answerable: bool = True) -> dict:
    return {
        "id": qid,
        "question": question,
        "answerable": answerable,
        "answer": "x" if answerable else "",
        "key_facts": facts,
        "evidence": [],
        "type": "factoid" if answerable else "unanswerable",
    }


def test_other_corpora_questions_become_unanswerable_unless_these_articles_hold_the_facts(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    other = Corpus(
        "elsewhere",
        tmp_path,
        (
            _write(
                tmp_path / "questions.jsonl",
                [
                    # a key fact the seeds hold: it might be answerable here
                    _question("q1", "Where is it?", [["4,117 goats"], ["Wiesbaden"]]),
                    # a fact no seed article has
                    _question("q2", "How many goats grazed at the summit?", [["4,117 goats"]]),
                    _question("q3", "Who won the cup?", [], answerable=False),
                    # written for the seeds too (the same words): never labelled both ways
                    _question("q4", "  what is the  RAMSTEIN group? ", [["goat herd"]]),
                ],
            ),
        ),
    )
    own = _write(
        tmp_path / "own.jsonl", [_question("s1", "What is the Ramstein Group?", [["Ramstein"]])]
    )
    here = Corpus("seeds", pipeline.settings.seeds_dir, (own,))
    negatives = cross_corpus_negatives(here, pipeline, [other])
    assert [e.item.id for e in negatives] == ["elsewhere:q2"]
    (e,) = negatives
    assert not e.item.answerable and not e.item.key_facts and not e.item.evidence
    assert e.corpus == "seeds" and is_synthetic(e) and source_corpus(e) == "elsewhere"
    assert not e.labels.any()  # nothing to teach the sentence head


def test_questions_asked_across_corpora_are_reported_apart(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    other = Corpus(
        "elsewhere",
        tmp_path,
        (_write(tmp_path / "q.jsonl", [_question("q2", "How many goats?", [["4,117 goats"]])]),),
    )
    (negative,) = cross_corpus_negatives(
        Corpus("seeds", pipeline.settings.seeds_dir, ()), pipeline, [other]
    )
    figures = report([negative], [SystemOutput(answer="The articles don't say.", abstained=True)])
    assert figures["all"]["n"] == 0 and figures["by_type"] == {}
    (name,) = figures["by_set"]
    assert name == "seeds/questions of elsewhere"
    assert figures["by_set"][name]["abstention_recall"] == 1.0


def test_the_answerable_head_learns_what_two_signals_say_together() -> None:
    """Answerable when both signals are up or both are down (a high score with the expected
    kind of answer, or a low one without it): no weighting of the two alone separates that,
    their product does."""
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    x = np.column_stack([a, b, rng.normal(size=400)]).astype(float)
    y = (a == b).astype(int)
    names = ("score", "typed", "noise")

    def accuracy(head: LinearHead | PairwiseHead) -> float:
        return float(((head.probability(x) > 0.5) == y).mean())

    assert accuracy(fit_pairwise_head(x, y, names, 1.0)) == 1.0
    assert accuracy(fit_head(x, y, names, 1.0)) < 0.7


def test_each_product_column_is_the_product_its_name_says() -> None:
    names = ("a", "b", "c", "d")
    x = np.random.default_rng(1).normal(size=(5, 4))
    expanded = expand_pairwise(x, (0.0,) * 4, (1.0,) * 4)
    for k, name in enumerate(pairwise_names(names)):
        factors = [x[:, names.index(part)] for part in name.split("*")]
        assert np.allclose(expanded[:, k], np.prod(factors, axis=0)), name


def test_the_packaged_answerable_head_is_the_regression_its_file_describes() -> None:
    """P(answerable) recomputed by hand from the stored numbers, product by product."""
    head = AnswerModel.load().answerable
    row = np.linspace(0.1, 0.9, len(head.signals))
    z = (row - np.asarray(head.centre)) / np.asarray(head.spread)
    value = dict(zip(head.signals, z, strict=True))
    inputs = [np.prod([value[part] for part in name.split("*")]) for name in head.linear.features]
    linear = head.linear
    logit = sum(
        w * (v - m) / s
        for w, v, m, s in zip(linear.coef, inputs, linear.mean, linear.scale, strict=True)
    )
    expected = 1.0 / (1.0 + np.exp(-(logit + linear.intercept)))
    assert float(head.probability(row.reshape(1, -1))[0]) == pytest.approx(expected)


def test_a_constant_feature_is_stored_unscaled_and_scores_stay_finite() -> None:
    rng = np.random.default_rng(2)
    x = np.column_stack([rng.normal(size=50), np.full(50, 0.1)])  # std 1e-17, not 0
    y = (x[:, 0] > 0).astype(int)
    head = fit_pairwise_head(x, y, ("varies", "constant"), 1.0)
    assert head.spread[1] == 1.0
    assert head.linear.scale[1] == 1.0  # the constant's own column in the linear part
    model = replace(AnswerModel.untrained(), answerable=replace(head))
    reloaded = AnswerModel.from_json(model.to_json()).answerable
    assert reloaded == head
    assert np.isfinite(reloaded.probability(x)).all()


def test_the_report_gives_each_question_set_by_type_with_the_baseline_beside() -> None:
    from rag.cli.train import markdown_report

    def block(accuracy: float) -> dict[str, object]:
        m = {"n": 3, "answer_accuracy": accuracy, "abstention_recall": None}
        return {
            "all": m,
            "by_set": {"seeds/train": m},
            "by_type": {"factoid": m},
            "by_set_type": {"seeds/train": {"factoid": m}},
        }

    text = markdown_report({"5-fold": block(0.75), "baseline: two": block(0.5)})
    assert "## 5-fold, each question set by type" in text
    row = next(line for line in text.splitlines() if line.startswith("| seeds/train · factoid"))
    assert row.startswith("| seeds/train · factoid | 3 | 0.75 | – |") and row.endswith("| 0.5 |")


def test_rescoring_rescores_the_last_part_too(pipeline: Pipeline) -> None:
    from rag.answer import LearnedAnswerer

    stage = pipeline.answerer
    assert isinstance(stage, LearnedAnswerer)
    question = "Where will the new NATO command be based, and how many personnel will staff it?"
    scored = stage.score(pipeline.retriever.retrieve(question, 8))
    assert scored.last_part is not None
    flat = AnswerModel.untrained()  # every sentence scores 0.5
    again = scored.rescored(flat, stage.corpus.lexicon)
    assert again.last_part is not None
    assert np.allclose(again.last_part.scores, 0.5)
    assert not np.allclose(scored.last_part.scores, 0.5)


def test_a_sentence_is_labelled_an_answer_when_it_is_evidence_holding_a_key_fact() -> None:
    from rag.answer.train import answer_labels
    from rag.eval.dataset import EvalItem, Evidence
    from rag.eval.metrics import SpanRef

    text = "NATO met in Brussels. The command will have 700 staff. Rain fell."
    sentences = [(0, 21), (22, 54), (55, 65)]
    spans = [SpanRef(doc_id="a.txt", start=s, end=e, text=text[s:e]) for s, e in sentences]
    evidence = [Evidence(doc="a.txt", quote=text[0:54], start=0, end=54)]  # two sentences
    item = EvalItem(
        id="q", question="How many staff?", answerable=True, key_facts=[["700"]], evidence=evidence
    )
    assert answer_labels(item, spans).tolist() == [0, 1, 0]
    # no evidence sentence holds a key fact (or there are none): evidence alone decides
    assert answer_labels(item.model_copy(update={"key_facts": [["800"]]}), spans).tolist() == [
        1,
        1,
        0,
    ]
    assert answer_labels(item.model_copy(update={"key_facts": []}), spans).tolist() == [1, 1, 0]
    unanswerable = item.model_copy(update={"answerable": False, "evidence": [], "key_facts": []})
    assert answer_labels(unanswerable, spans).tolist() == [0, 0, 0]


def _fold_examples(n: int) -> list[SimpleNamespace]:
    """Stand-ins with what `folds` reads: a question and its evidence. Pairs 2k, 2k+1 share
    an evidence span."""
    from rag.eval.dataset import Evidence

    return [
        SimpleNamespace(
            item=SimpleNamespace(
                question=f"question {i}?",
                evidence=[Evidence(doc="a.txt", start=100 * (i // 2), end=100 * (i // 2) + 50)],
            )
        )
        for i in range(n)
    ]


def test_folds_move_with_the_seed_and_never_part_shared_evidence() -> None:
    from rag.answer.train import folds

    examples = _fold_examples(40)
    by_seed = {seed: folds(examples, seed=seed) for seed in (42, 7)}
    assert folds(examples, seed=42) == by_seed[42]
    assert by_seed[42] != by_seed[7]
    for assignment in by_seed.values():
        assert sorted(i for fold in assignment for i in fold) == list(range(40))
        fold_of = {i: k for k, fold in enumerate(assignment) for i in fold}
        assert all(fold_of[2 * j] == fold_of[2 * j + 1] for j in range(20))


def test_the_spread_table_gives_each_seed_and_the_mean() -> None:
    from rag.answer.train import SeedFigures
    from rag.cli.train import spread_table

    rows = [
        SeedFigures(42, "5-fold over questions", 0.6, 0.4, 0.0, 0.5, 300.0),
        SeedFigures(7, "5-fold over questions", 0.7, None, 0.1, 0.5, 280.0),
        SeedFigures(42, "trained without x, tested on it", 0.5, 0.2, 0.0, 0.6, 250.0),
    ]
    table = spread_table(rows)
    assert "## 5-fold over questions" in table and "## trained without x, tested on it" in table
    assert "| 7 | 0.700 | – | 0.100 | 0.500 | 280.0 |" in table
    assert "| mean | 0.650 | 0.400 | 0.050 | 0.500 | 290.0 |" in table


def test_the_spread_cross_validates_at_each_seed_without_the_baseline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rag.answer.train as training

    seen: list[int] = []

    def cross_validate(trainer: training.Trainer, examples: object) -> dict[str, object]:
        seen.append(trainer.seed)
        figures = {name: float(trainer.seed) for name in training.SPREAD_FIGURES}
        return {
            "5-fold over questions": {"all": figures},
            "baseline: two most similar sentences": {"all": figures},
        }

    monkeypatch.setattr(training, "cross_validate", cross_validate)
    rows = training.fold_seed_spread(training.Trainer({}), [], [42, 7])
    assert seen == [42, 7]
    assert [(r.seed, r.evaluation) for r in rows] == [
        (42, "5-fold over questions"),
        (7, "5-fold over questions"),
    ]
    assert rows[1].abstention_recall == 7.0 and rows[1].citation_precision == 7.0
