from __future__ import annotations

import re

import pytest

from rag.answer.extractive import (
    Candidate,
    expected_type,
    focus_words,
    person_names,
    profile_question,
    trim_to_budget,
    type_match,
)
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
        assert not answer.abstained, question
        assert 0 < len(answer.answer) <= 300
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


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Which city will host the summit?", "place"),
        ("What body oversees the mission?", "entity"),
        ("Which countries share a border with Russia?", "entity"),
        ("Who is in charge of funding?", "person"),
        ("What annual financial pledge was discussed?", "number"),
        ("By what margin is Russia outgunning Ukraine?", "number"),
        ("How does the staff compare in size with the unit?", "number"),
        ("What did Orbán say about money for Kyiv?", "other"),
    ],
)
def test_expected_answer_type_from_which_and_what_nouns(question: str, kind: str) -> None:
    assert expected_type(question) == kind


@pytest.mark.parametrize(
    ("sentence", "question", "holds"),
    [
        ("Russia produces about 3 million rounds.", "How many rounds in 2024?", 1.0),
        ("It was agreed in 2024.", "How many rounds in 2024?", 0.0),  # a year is a date
        ("He takes office on January 20.", "How much did it cost?", 0.0),  # so is January 20
        ("The F-16 arrived.", "How many F-16 jets arrived?", 0.0),  # the question's own number
        ("Staffed by nearly 700 people.", "How many people staff it?", 1.0),
        ("It meets often.", "How often does it meet, ten times?", 0.0),
    ],
)
def test_number_holding_compares_whole_numbers(sentence: str, question: str, holds: float) -> None:
    assert type_match("number", sentence, question) == holds


def test_person_names_skip_openers_roles_and_bodies() -> None:
    sentence = (
        "In Brussels, Defense Secretary Lloyd Austin met the Ukraine Defense Contact Group "
        "and Sec. Austin spoke."
    )
    assert person_names(sentence) == ["Lloyd Austin", "Sec. Austin"]


@pytest.mark.parametrize("question", ["?!?", "the of and", "¿Dónde está la sede?"])
def test_odd_questions_get_an_answer_object_not_an_error(pipeline: Pipeline, question: str) -> None:
    answer = pipeline.ask(question)
    assert answer.abstained or answer.citations
    assert_citations_exact(answer, pipeline)


def test_trimming_keeps_exact_offsets_and_the_asked_for_clause(pipeline: Pipeline) -> None:
    doc = pipeline.index.documents["001_b9504cd1d273c395.txt"]
    long_sentence = next(s for s in pipeline.index.sentences if "Australia and Japan" in s.text)
    assert len(long_sentence.text) > 300
    profile = profile_question(
        "Which non-NATO allies would NATO have to include?", pipeline.lexicon
    )
    cand = Candidate(long_sentence, 0.5, 0.5, 0.5, 0.5, 1.0, matched=set(profile.terms))
    start, end = trim_to_budget(doc.text, cand, 150, profile)
    assert long_sentence.start <= start < end <= long_sentence.end
    assert end - start <= 148
    assert "Australia and Japan" in doc.text[start:end]


def test_abstention_text_names_each_missing_word_once_and_briefly(pipeline: Pipeline) -> None:
    answer = pipeline.ask("How many Zorblax-Zorblax jets did " + "Q" * 500 + " send?")
    assert answer.abstained
    assert answer.answer.count("Zorblax-Zorblax") == 1
    assert len(answer.answer) < 200


def test_the_answer_stage_is_pluggable(settings) -> None:
    from rag.answer import Selection
    from rag.embed import FakeEmbedder

    class Stub:  # what an LLM-backed stage would plug in
        def answer(self, question, retrieval):
            return Selection(True, f"stub saw {len(retrieval.passages)} passages", [], [])

    pipeline = Pipeline.load(
        settings, embedder=FakeEmbedder(), answerer=lambda index, retriever: Stub()
    )
    answer = pipeline.ask("Where will the new command be based?")
    assert answer.abstained and answer.answer == "stub saw 8 passages"
    assert len(answer.passages) == 5  # retrieval and the answer object are unchanged
