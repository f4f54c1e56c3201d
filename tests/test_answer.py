from __future__ import annotations

import re

import pytest

from rag.answer import expected_type, focus_words
from rag.errors import InvalidQuestionError
from rag.pipeline import Pipeline
from rag.types import Answer


def assert_citations_exact(answer: Answer, pipeline: Pipeline) -> None:
    texts = {d.doc_id: d.text for d in pipeline.index.documents.values()}
    for c in answer.citations:
        assert texts[c.doc_id][c.start : c.end] == c.quote
        assert f"[{c.marker}]" in answer.answer
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]
    assert markers == [c.marker for c in answer.citations]


def test_answer_object_shape_and_exact_citations(pipeline: Pipeline) -> None:
    answer = pipeline.ask("How many rounds of ammunition does Russia produce a year?")
    assert not answer.abstained
    assert "3 million" in answer.answer
    assert answer.citations and answer.passages
    assert_citations_exact(answer, pipeline)
    data = answer.model_dump()
    assert set(data) == {"question", "answer", "abstained", "citations", "passages", "timings_ms"}
    assert set(data["citations"][0]) == {
        "marker",
        "doc_id",
        "title",
        "date",
        "start",
        "end",
        "quote",
        "score",
    }
    assert set(data["passages"][0]) == {"doc_id", "start", "end", "text", "score"}
    assert set(data["timings_ms"]) == {"retrieve", "answer", "total"}


@pytest.mark.parametrize(
    "question",
    [
        "What is the recipe for banana bread?",
        "How many F-16 fighter jets has Denmark delivered to Ukraine?",
        "What is the population of Wiesbaden?",
    ],
)
def test_abstains_when_the_articles_do_not_say(pipeline: Pipeline, question: str) -> None:
    answer = pipeline.ask(question)
    assert answer.abstained
    assert answer.answer.startswith("The articles don't say")
    assert answer.citations == []


def test_answers_stay_short(pipeline: Pipeline) -> None:
    for question in (
        "What did Austin suggest instead of precision-guided missiles?",
        "Which countries are stepping up military aid to Russia?",
    ):
        answer = pipeline.ask(question)
        assert len(re.sub(r"\s*\[\d+\]", "", answer.answer)) <= 300
        assert_citations_exact(answer, pipeline)


def test_empty_and_overlong_questions_are_rejected(pipeline: Pipeline) -> None:
    with pytest.raises(InvalidQuestionError, match="empty"):
        pipeline.ask("   ")
    with pytest.raises(InvalidQuestionError, match="limit is 2000"):
        pipeline.ask("why " * 600)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many personnel will staff it?", "number"),
        ("What is the population of Wiesbaden?", "number"),
        ("Who is the new Secretary General?", "person"),
        ("Where will the command be based?", "place"),
        ("When was SAG-U set up?", "date"),
        ("What is the Ramstein Group?", "other"),
    ],
)
def test_expected_answer_type(question: str, kind: str) -> None:
    assert expected_type(question) == kind


def test_focus_words() -> None:
    assert {"F-16", "fighter", "jets"} <= focus_words(
        "How many F-16 fighter jets has Denmark sent?"
    )
    assert "population" in focus_words("What is the population of Wiesbaden?")
