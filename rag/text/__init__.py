"""Lexical analysis shared by every stage: tokens and stems, word lists, the corpus lexicon."""

from rag.text.lexicon import Lexicon, is_vocabulary_word, vocabulary
from rag.text.tokens import (
    bigrams,
    content_terms,
    jaccard,
    stem,
    term_words,
    tokenize_for_bm25,
    words,
)

__all__ = [
    "Lexicon",
    "bigrams",
    "content_terms",
    "is_vocabulary_word",
    "jaccard",
    "stem",
    "term_words",
    "tokenize_for_bm25",
    "vocabulary",
    "words",
]
