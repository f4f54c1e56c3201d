"""Spelling repair of a query against the corpus lexicon: typos, chat shorthand, acronyms."""

from __future__ import annotations

import re

from rapidfuzz import fuzz, process

from rag.text import Lexicon, stem
from rag.text.wordlists import SHORTHAND, STOPWORDS

# rapidfuzz ratio (0-100) from which an unknown word is taken for a corpus word.
MATCH_CUTOFF = 82


def repair(query: str, lexicon: Lexicon) -> str:
    """Replace misspelt words (unknown, close to a corpus word) with that word."""
    known = lexicon.word_set

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        lowered = word.lower()
        if word.islower() and lowered in SHORTHAND and lowered not in known:
            return SHORTHAND[lowered]
        if word.isupper() and lowered not in known and word in lexicon.acronyms:
            return lexicon.acronyms[word]
        if len(lowered) < 4 or lowered in STOPWORDS or lowered in known:
            return word
        if stem(lowered) in lexicon.term_df:
            return word
        best = process.extractOne(
            lowered, lexicon.words, scorer=fuzz.ratio, score_cutoff=MATCH_CUTOFF
        )
        return best[0] if best else word

    # Whole words only: the "U" of "SAG-U" is not the shorthand "u".
    return re.sub(r"(?<![\w.-])[A-Za-z]+(?![\w-]|\.\w)", fix, query)
