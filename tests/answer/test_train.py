"""Training data: other corpora's questions as unanswerable examples, kept out of the figures
for real questions."""

from __future__ import annotations

import json
from pathlib import Path

from rag.answer.train import (
    Corpus,
    cross_corpus_negatives,
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
    """A high best score says "answerable" only when the expected answer type is there too:
    no weighting of the two alone separates that, their product does."""
    import numpy as np

    from rag.answer.train import fit_head, fit_pairwise_head

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    x = np.column_stack([a, b, rng.normal(size=400)]).astype(float)
    y = (a == b).astype(int)  # same-sign pairs answerable, mixed ones not
    names = ("score", "typed", "noise")
    pairwise = fit_pairwise_head(x, y, names, 1.0)
    linear = fit_head(x, y, names, 1.0)
    accuracy = lambda head: float(((head.probability(x) > 0.5) == y).mean())  # noqa: E731
    assert accuracy(pairwise) == 1.0
    assert accuracy(linear) < 0.7
    assert pairwise.linear.features[3:] == ("score*typed", "score*noise", "typed*noise")
