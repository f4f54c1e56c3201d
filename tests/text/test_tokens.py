"""Content terms: what BM25, coverage and the answer features count as a question's words."""

from __future__ import annotations

import pytest

from rag.text import Lexicon, term_words, vocabulary
from rag.text.tokens import content_terms


@pytest.mark.parametrize(
    "contraction",
    ["what's", "Who’s", "it's", "there's", "they're", "don't", "isn’t", "won't", "donʼt", "it‘s"],
)
def test_a_stop_words_contraction_is_no_term(contraction: str) -> None:
    # "who's in charge?" must not ask for the term "who", which no sentence holds
    assert content_terms(f"{contraction} in charge") == ["charg"]


def test_possessives_of_content_words_keep_their_term() -> None:
    assert content_terms("NATO's plan and Putin’s demand") == ["nato", "plan", "putin", "demand"]


def test_hyphenated_compounds_split_and_stop_words_drop() -> None:
    assert content_terms("the Secretary-General of NATO") == ["secretari", "general", "nato"]


def test_letters_with_diacritics_match_their_plain_spelling() -> None:
    # typed without the accent, and never split at it ("Orbán" is not "orb" + "n")
    assert content_terms("Viktor Orbán of Türkiye") == content_terms("viktor orban of turkiye")
    assert content_terms("Orbán") == ["orban"]
    # letters without a canonical decomposition too; marks that are not accents stay marks
    assert content_terms("Kılıçdaroğlu, Wałęsa, Søren") == ["kilicdaroglu", "walesa", "soren"]
    assert content_terms("Ukraine² said") == ["ukrain"]


def test_a_model_designation_matches_its_one_word_spelling() -> None:
    assert content_terms("F-16 jets") == ["16", "f16", "jet"]  # "f16 jet" a bigram of both
    assert "f16" in content_terms("two F-16s") and "f35a" in content_terms("the F-35A")
    assert content_terms("f16") == ["f16"]
    # an ordinary compound with a number is no designation
    assert content_terms("mid-2020") == ["mid", "2020"]


def test_a_scaled_number_reads_as_number_and_unit() -> None:
    assert content_terms("€100bn") == content_terms("100 billion") == ["100", "billion"]
    assert content_terms("$1.5tn") == content_terms("1.5 trillion")


def test_each_term_keeps_the_word_it_was_written_as() -> None:
    assert term_words("How big is the yearly F-16 ammo pledge?") == {
        "big": "big",
        "year": "yearly",
        "16": "16",
        "ammo": "ammo",
        "pledg": "pledge",
    }


def test_the_vocabulary_is_the_lexicons_words() -> None:
    texts = ["NATO’s Ukraine Defense Contact Group met in Wiesbaden.", "It pledged €40bn a year."]
    assert vocabulary(texts) == Lexicon.from_texts(texts).words
    assert "wiesbaden" in vocabulary(texts) and "40bn" not in vocabulary(texts)
