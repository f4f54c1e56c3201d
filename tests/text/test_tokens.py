"""Content terms: what BM25, coverage and the answer features count as a question's words."""

from __future__ import annotations

import pytest

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
