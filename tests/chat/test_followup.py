"""Follow-up resolution for multi-turn chat (model-free)."""

from __future__ import annotations

import pytest

from rag.chat import Turn, detect_followup, key_terms, resolve, resolve_followup
from rag.ingest import chunk_corpus, load_corpus
from rag.text import Lexicon
from tests.conftest import SEEDS

COMMAND = "What new command is NATO setting up?"
COMMAND_ANSWER = (
    "The North Atlantic Treaty Organization is also establishing a new command in Wiesbaden, "
    "Germany, to coordinate the provision of military equipment to Kyiv. [1]"
)


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    sentences, _ = chunk_corpus(load_corpus(SEEDS), 3, 1)  # what the API builds it from
    return Lexicon.from_texts(s.text for s in sentences)


def chat(*questions: str) -> list[Turn]:
    history: list[Turn] = []
    for q in questions:
        history += [Turn("user", q), Turn("assistant", "Some answer. [1]")]
    return history


def test_pronoun_followup_inherits_the_previous_questions_key_terms(lexicon: Lexicon) -> None:
    history = [Turn("user", COMMAND), Turn("assistant", COMMAND_ANSWER)]
    result = resolve(history, "How many personnel will staff it?", lexicon)
    assert result.is_followup and result.kind == "reference"
    assert result.question.startswith("How many personnel will staff it?")
    assert "command" in result.added_terms and len(result.added_terms) <= 3
    # Nothing the follow-up already says is repeated, and no function words are added.
    assert "personnel" not in result.added_terms and "is" not in result.added_terms


@pytest.mark.parametrize(
    "question",
    [
        "How many personnel will staff the NATO Security Assistance and Training for Ukraine "
        "operation?",
        "Who is Keith Kellogg?",
        "What is the Ukraine Defense Contact Group also known as?",
        "What will NATO do with its new command?",  # "its" has an antecedent: NATO
        "Which two countries opposed inviting Ukraine to join NATO at the Washington summit?",
        "Did officials say that allies would pay more?",  # "that" is a conjunction here
        "Is there a NATO office in Kyiv?",  # existential "there"
        "ramstein grp... how many countries defense chiefs r in it?",  # lower-case name
        "What is NSATU?",  # an acronym names the subject
    ],
)
def test_self_contained_questions_are_left_unchanged(question: str, lexicon: Lexicon) -> None:
    history = [Turn("user", COMMAND), Turn("assistant", COMMAND_ANSWER)]
    assert resolve_followup(history, question, lexicon) == question
    assert detect_followup(question, lexicon) is None


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Where will it be based?", "reference"),
        ("Who leads them?", "reference"),
        ("When was that?", "reference"),
        ("How big is that command?", "reference"),
        ("How many people work there?", "reference"),
        ("What did he say about it?", "reference"),
        ("And Germany?", "ellipsis"),
        ("What about the budget?", "ellipsis"),
        ("Why?", "ellipsis"),
        ("How many personnel?", "ellipsis"),
    ],
)
def test_followups_are_detected(question: str, kind: str, lexicon: Lexicon) -> None:
    found = detect_followup(question, lexicon)
    assert found is not None and found[0] == kind


def test_without_history_a_followup_is_left_unchanged(lexicon: Lexicon) -> None:
    result = resolve([], "How many personnel will staff it?", lexicon)
    assert result.question == "How many personnel will staff it?"
    assert not result.is_followup and result.added_terms == ()


def test_chained_references_keep_the_topic_not_the_previous_followup(lexicon: Lexicon) -> None:
    history = chat(COMMAND, "How many personnel will staff it?")
    result = resolve(history, "Where will it be based?", lexicon)
    assert "command" in result.added_terms
    assert "personnel" not in result.added_terms  # that was the previous follow-up's own ask


def test_an_ellipsis_repeats_the_previous_question_as_resolved(lexicon: Lexicon) -> None:
    history = chat("What is the Ramstein Group?", "Who hosts its meetings?")
    result = resolve(history, "How often?", lexicon)
    assert result.kind == "ellipsis"
    assert "Ramstein" in result.added_terms and "hosts" in result.added_terms


def test_assistant_turns_and_markers_do_not_leak_into_the_question(lexicon: Lexicon) -> None:
    history = [Turn("user", COMMAND), Turn("assistant", COMMAND_ANSWER)]
    resolved = resolve_followup(history, "Where is it?", lexicon)
    assert "[1]" not in resolved and "Wiesbaden" not in resolved  # the answer is not the topic


def test_words_the_corpus_never_uses_are_not_inherited(lexicon: Lexicon) -> None:
    assert key_terms("What new zorblax command is NATO setting up?", lexicon) == [
        "new",
        "command",
        "NATO",
        "setting",
    ]
    # Without a lexicon every content word counts.
    assert "zorblax" in key_terms("What new zorblax command is NATO setting up?")


def test_he_inherits_the_persons_name_not_what_was_asked_about_them(lexicon: Lexicon) -> None:
    history = chat(
        "What did Defense Secretary Austin suggest as a better option than precision-guided "
        "missiles?"
    )
    result = resolve(history, "Which meetings does he host?", lexicon)
    assert "Austin" in result.added_terms
    assert not {"missiles", "precision-guided", "option"} & set(result.added_terms)


def test_inherited_terms_are_the_most_specific_ones(lexicon: Lexicon) -> None:
    history = chat("What is the Ukraine Defense Contact Group also known as?")
    result = resolve(history, "Who hosts its meetings?", lexicon)
    assert "Contact" in result.added_terms and "Ukraine" not in result.added_terms


def test_lexicon_names_are_words_the_articles_only_capitalise(lexicon: Lexicon) -> None:
    assert {"wiesbaden", "ramstein", "kellogg", "nato"} <= lexicon.names
    assert "command" not in lexicon.names and "security" not in lexicon.names
