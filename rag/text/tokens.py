"""Tokens, stems and content terms, used by BM25, answer scoring and follow-ups alike."""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

import Stemmer

from rag.text.wordlists import MONTH_ABBREVIATIONS, STOPWORDS

# How content_terms writes terms, recorded in every index's manifest (the PostgreSQL store
# keeps BM25 postings built from them). 2: a stop word's contraction ("what's", "it's",
# "don't") is a stop word too
TERMS_VERSION = 2

# Apostrophes as typed: ASCII, typographic (’), and the look-alikes ‘ and ʼ.
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'’‘ʼ.][A-Za-z0-9]+)*")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
# A contraction's clitic ("what's", "they're"): the word is a stop word when its host is one
# (otherwise "who's" would be the question term "who", which no sentence has).
_CLITIC = re.compile(r"'(?:s|re|ll|ve|d|m)$")
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word.lower().translate(_APOSTROPHES).removesuffix("'s")))


def words(text: str) -> list[str]:
    return _TOKEN.findall(text)


def content_terms(text: str) -> list[str]:
    """Stemmed non-stop-word terms, in order (duplicates kept); compounds split at hyphens
    so "Secretary-General" matches "secretary general"."""
    out = []
    for word in words(text):
        for part in word.split("-"):
            lowered = part.lower().translate(_APOSTROPHES)
            if (
                lowered in STOPWORDS
                or _CLITIC.sub("", lowered) in STOPWORDS
                or lowered.endswith("n't")  # negated auxiliaries: function words all
                or (len(lowered) < 2 and not lowered.isdigit())
            ):
                continue
            lowered = MONTH_ABBREVIATIONS.get(lowered, lowered)
            out.append(stem(lowered.replace(".", "")))
    return out


def bigrams(terms: list[str]) -> list[str]:
    return [f"{a}_{b}" for a, b in itertools.pairwise(terms)]


def tokenize_for_bm25(text: str) -> list[str]:
    """Terms plus adjacent-term pairs: a rare pair ("ukrain_council") rewards the exact name."""
    terms = content_terms(text)
    return terms + bigrams(terms)


def jaccard(a: set[str], b: set[str]) -> float:
    """Overlap of two term sets (0 when either is empty)."""
    return len(a & b) / len(a | b) if a and b else 0.0
