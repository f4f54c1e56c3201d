"""Shared lexical analysis: tokens, stems and stop words, used by BM25 and answer scoring alike."""

from __future__ import annotations

import itertools
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


# Month abbreviations as printed in news copy ("Dec. 3-4") match the full names.
_MONTHS = {
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
}


def content_terms(text: str) -> list[str]:
    """Stemmed non-stop-word terms, in order (duplicates kept); compounds split at hyphens
    so "Secretary-General" matches "secretary general"."""
    out = []
    for word in words(text):
        for part in word.split("-"):
            lowered = part.lower()
            if lowered in STOPWORDS or (len(lowered) < 2 and not lowered.isdigit()):
                continue
            lowered = _MONTHS.get(lowered, lowered)
            out.append(stem(lowered.replace(".", "")))
    return out


def bigrams(terms: list[str]) -> list[str]:
    return [f"{a}_{b}" for a, b in itertools.pairwise(terms)]


def tokenize_for_bm25(text: str) -> list[str]:
    """Terms plus adjacent-term pairs: a rare pair ("ukrain_council") rewards the exact name."""
    terms = content_terms(text)
    return terms + bigrams(terms)
