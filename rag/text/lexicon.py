"""The corpus lexicon: per-sentence term statistics, computed once per loaded index and
shared by retrieval (spelling repair, IDF), answering (IDF, known terms) and follow-up
resolution (known words, names, how common a word is)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rag.text.tokens import content_terms, stem, words
from rag.text.wordlists import CALENDAR_WORDS, NAME_FUNCTION_WORDS, STOPWORDS

# Three or more capitalised words, optionally joined by a short function word.
_MULTIWORD_NAME = re.compile(
    rf"\b[A-Z][\w-]*(?:\s+(?:(?:{'|'.join(NAME_FUNCTION_WORDS)})\s+)?[A-Z][\w-]*){{2,}}"
)


def is_vocabulary_word(word: str) -> bool:
    """A word the vocabulary holds: letters only, three or more."""
    return word.isalpha() and len(word) > 2


def vocabulary(texts: Iterable[str]) -> tuple[str, ...]:
    """`Lexicon.words` of these texts, without the rest of the lexicon: the words an index
    build embeds (rag.embed.WordVectors)."""
    return tuple(
        sorted({w.lower() for text in texts for w in words(text) if is_vocabulary_word(w)})
    )


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What the corpus's sentences know. Two kinds of document frequency, both counted per
    sentence: `term_df` over content terms (`content_terms`: stop words dropped, compounds
    split, months normalised) for IDF, and `stem_df` over the stem of every word as written,
    for "does the corpus use this word at all"."""

    n: int  # sentences
    term_df: Mapping[str, int]
    stem_df: Mapping[str, int]
    words: tuple[str, ...]  # sorted lower-case alphabetic words of 3+ letters: spelling targets
    word_set: frozenset[str]  # the same words, for membership
    names: frozenset[str]  # lower-cased words the articles only ever write capitalised
    acronyms: Mapping[str, str]  # initials -> the multi-word name they abbreviate
    sentence_terms: tuple[tuple[str, ...], ...]  # content terms of each text, in order

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Lexicon:
        term_df: Counter[str] = Counter()
        stem_df: Counter[str] = Counter()
        vocabulary: set[str] = set()
        capitalised: set[str] = set()
        lowercase: set[str] = set()
        acronyms: dict[str, str] = {}
        per_text: list[tuple[str, ...]] = []
        for text in texts:
            terms = tuple(content_terms(text))
            per_text.append(terms)
            term_df.update(set(terms))
            tokens = words(text)
            stem_df.update({stem(w.lower()) for w in tokens})
            for position, word in enumerate(tokens):
                lowered = word.lower()
                if is_vocabulary_word(word):
                    vocabulary.add(lowered)
                if word[:1].isupper() and position > 0:
                    capitalised.add(lowered)
                elif word[:1].islower():
                    lowercase.add(lowered)
            for match in _MULTIWORD_NAME.finditer(text):
                parts = [w for w in match.group(0).split() if w not in NAME_FUNCTION_WORDS]
                initials = "".join(w[0] for w in parts)
                if len(initials) >= 3:
                    acronyms.setdefault(initials, match.group(0))
        never_names = STOPWORDS | CALENDAR_WORDS
        names = {w for w in capitalised - lowercase if w not in never_names}
        return cls(
            n=len(per_text),
            term_df=dict(term_df),
            stem_df=dict(stem_df),
            words=tuple(sorted(vocabulary)),
            word_set=frozenset(vocabulary),
            names=frozenset(names),
            acronyms=acronyms,
            sentence_terms=tuple(per_text),
        )

    def idf(self, term: str) -> float:
        """Of a content term (smoothed; an unknown term gets the highest weight)."""
        return math.log((self.n + 1) / (self.term_df.get(term, 0) + 0.5))

    def known(self, term: str) -> bool:
        """Whether a content term (as `content_terms` produces it) occurs in the corpus."""
        return term in self.term_df

    def knows_word(self, word: str) -> bool:
        """Whether the corpus uses the word as written (by stem), stop words included."""
        return stem(word.lower()) in self.stem_df

    def share(self, word: str) -> float:
        """Fraction of the corpus's sentences that use the word (by stem)."""
        return self.stem_df.get(stem(word.lower()), 0) / max(self.n, 1)
