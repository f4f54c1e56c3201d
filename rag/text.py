"""Shared lexical analysis: tokens, stems and stop words, used by BM25 and answer scoring alike."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

# Words that carry a question's intent but no topic: kept out of term coverage.
QUESTION_WORDS = frozenset(
    (
        "what which who whom whose when where why how many much did does do is are was were "
        "according say said tell also compare compared comparison mentioned mention article "
        "articles"
    ).split()
)
STOPWORDS = frozenset(STOPWORDS_EN) | QUESTION_WORDS

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'’.][A-Za-z0-9]+)*")
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word.lower().replace("’", "'").removesuffix("'s")))


def words(text: str) -> list[str]:
    return _TOKEN.findall(text)


def content_terms(text: str) -> list[str]:
    """Stemmed non-stop-word terms, in order (duplicates kept)."""
    out = []
    for word in words(text):
        lowered = word.lower()
        if lowered in STOPWORDS or (len(lowered) < 2 and not lowered.isdigit()):
            continue
        out.append(stem(lowered.replace(".", "")))
    return out


def tokenize_for_bm25(text: str) -> list[str]:
    return content_terms(text)
