"""Tokens, stems and content terms, used by BM25, answer scoring and follow-ups alike."""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

import Stemmer

from rag.text.wordlists import MONTH_ABBREVIATIONS, STOPWORDS

# How content_terms writes terms, recorded in every index's manifest (the PostgreSQL store
# keeps BM25 postings built from them). 2: a stop word's contraction ("what's", "it's",
# "don't") is a stop word too; 3: letters fold to their base ("Orbán" = "orban"), "F-16" is
# also "f16", and "€100bn" is "100 billion"
TERMS_VERSION = 3

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'.][A-Za-z0-9]+)*")
# A contraction's clitic ("what's", "they're"): the word is a stop word when its host is one
# (otherwise "who's" would be the question term "who", which no sentence has).
_CLITIC = re.compile(r"'(?:s|re|ll|ve|d|m)$")
# A number with a unit written onto it, as news copy does ("100bn", "1.5tn", "20k").
_SCALED = re.compile(r"(\d+(?:\.\d+)?)(bn|tn|mn|k)")
_SCALES = {"bn": "billion", "tn": "trillion", "mn": "million", "k": "thousand"}
_COMBINING = re.compile("[\u0300-\u036f]")
# As typed on an English keyboard: apostrophes (typographic ’ and the look-alikes ‘ and ʼ),
# and letters with no canonical decomposition.
_ASCII_FORMS = str.maketrans(
    {"’": "'", "‘": "'", "ʼ": "'"}
    | {"ı": "i", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss"}
    | {"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE"}
)
# A designation: a capitalised short name and a number, perhaps with a variant letter or a
# plural ("F-16", "Su-27", "F-35A", "F-16s"), also typed as one word.
_DESIGNATION = re.compile(r"([A-Z][A-Za-z]{0,3})-(\d+[A-Za-z]?)")
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_stemmer.stemWord(fold(word).lower().removesuffix("'s")))


def fold(text: str) -> str:
    """Letters with diacritics as their base letters ("Orbán" -> "Orban", "Wałęsa" ->
    "Walesa") and every apostrophe as ': questions are typed so. Canonical decomposition
    only, so "Ukraine²" and "½" keep their marks rather than gaining digits."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFD", text)).translate(_ASCII_FORMS)


def words(text: str) -> list[str]:
    return _TOKEN.findall(fold(text))


def content_terms(text: str) -> list[str]:
    """Stemmed non-stop-word terms, in order (duplicates kept); compounds split at hyphens
    so "Secretary-General" matches "secretary general"."""
    out: list[str] = []
    for word in words(text):
        for part in word.split("-"):
            lowered = part.lower()
            if (
                lowered in STOPWORDS
                or _CLITIC.sub("", lowered) in STOPWORDS
                or lowered.endswith("n't")  # negated auxiliaries: function words all
                or (len(lowered) < 2 and not lowered.isdigit())
            ):
                continue
            scaled = _SCALED.fullmatch(lowered)
            if scaled:
                out.extend((scaled.group(1).replace(".", ""), _SCALES[scaled.group(2)]))
                continue
            lowered = MONTH_ABBREVIATIONS.get(lowered, lowered)
            out.append(stem(lowered.replace(".", "")))
        designation = _DESIGNATION.fullmatch(word.removesuffix("s"))
        if designation:  # after its parts, so "F16 jets" and "F-16 jets" share a bigram
            out.append("".join(designation.groups()).lower())
    return out


def term_words(text: str) -> dict[str, str]:
    """Each content term of `text` and the lower-cased word it was first written as
    ("yearly" for the term "year"): what a term looks like to a word-embedding model."""
    out: dict[str, str] = {}
    for word in words(text):
        for part in word.split("-"):
            for term in content_terms(part):
                out.setdefault(term, part.lower())
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
