"""Multi-turn chat: turn a follow-up question into one that retrieval can answer on its own.

"What new command is NATO setting up?" then "How many personnel will staff it?": the second
question says nothing about the command, so retrieval would miss it. A follow-up is detected
from its wording (a pronoun with no antecedent of its own, a continuation such as "what
about ...", a very short question, or no content word at all) and the key words of the
previous user question are appended to it. Self-contained questions pass through unchanged.

Model-free and deterministic: word lists and, optionally, the corpus `Lexicon` (which words
the articles use, and which they only write as names).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rag.text import Lexicon, stem, words
from rag.text.wordlists import CALENDAR_WORDS, STOPWORDS
from rag.types import Answer

Role = Literal["user", "assistant"]
# "reference": a pronoun or "that ..." pointing at an earlier subject;
# "ellipsis": a fragment that repeats the previous question with a change ("and NATO?").
FollowUpKind = Literal["reference", "ellipsis"]

# Pronouns that point back to something named earlier in the conversation.
_PERSONAL = frozenset("he him his himself she her hers herself".split())
_PRONOUNS = frozenset("it its it's itself they them their theirs".split()) | _PERSONAL
_DEMONSTRATIVES = frozenset("this that these those".split())
# "there" is existential ("is there ...", "there are ...") unless it names a place.
_BE = frozenset("is are was were will would be been has have had".split())
# Openers that continue the previous question rather than start a new one.
_CONTINUATIONS = re.compile(
    r"^\s*(?:and|also|but|so|then|plus|what about|how about|what else|why not)\b",
    re.IGNORECASE,
)
# Words that are never key terms of a question: function words and question scaffolding.
_NOT_KEY = (
    STOPWORDS
    | _PRONOUNS
    | _DEMONSTRATIVES
    | frozenset(
        (
            "would could should can may might must shall has have had does did doing done been "
            "being get got up out about me you your we our us i tell know please more any some "
            "all one like just also very still now then than which what who whom whose where "
            "when why how many much there here s t"
        ).split()
    )
)
# Verbs after which "that" introduces a clause, not a reference.
_REPORTING = frozenset(
    "say says said claim claims claimed think thinks thought believe believes believed "
    "report reports reported announce announces announced warn warns warned argue argued "
    "suggest suggested insist insisted note noted add added mean idea fact".split()
)
SHORT_QUESTION_WORDS = 3
# Few inherited words: each one also counts in answer selection, so a long tail of the
# previous question's words drags the answer back to the previous answer.
MAX_ADDED_TERMS = 3
# A name in fewer than this share of sentences identifies a subject ("Austin"), unlike
# names found everywhere in these articles ("NATO", "Ukraine").
SPECIFIC_SHARE = 0.08
_MARKER = re.compile(r"\[\d+\]")


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Resolution:
    question: str  # what to retrieve and answer with
    original: str
    kind: FollowUpKind | None  # None: a self-contained question (or nothing to resolve against)
    reason: str | None  # why it counts as a follow-up, for logs and the API response
    added_terms: tuple[str, ...] = ()

    @property
    def is_followup(self) -> bool:
        return self.kind is not None


@dataclass(frozen=True, slots=True)
class ChatReply:
    """One turn of a conversation: the answer, and how the question was resolved."""

    answer: Answer
    resolution: Resolution
    # What was retrieved and answered with: the resolved question, or the original when the
    # added context would make it longer than RAG_MAX_QUESTION_CHARS.
    resolved_question: str


def _is_name(word: str, position: int, lexicon: Lexicon | None) -> bool:
    """A word that names something: capitalised mid-question, an acronym, a code like F-16,
    or (for lower-case typing) a word the corpus only writes as a name."""
    lowered = word.lower()
    if len(word) >= 2 and word.isupper() and word.isalpha():
        return True  # an acronym, even one spelt like a function word ("US")
    if lowered in _NOT_KEY or lowered in CALENDAR_WORDS:
        return False
    if lexicon is not None and lowered in lexicon.names:
        return True
    if any(ch.isdigit() for ch in word) and any(ch.isalpha() for ch in word):
        return True
    return position > 0 and word[:1].isupper()


def detect_followup(
    question: str, lexicon: Lexicon | None = None
) -> tuple[FollowUpKind, str] | None:
    """Whether (and why) `question` needs the conversation to be understood; None if it
    stands alone."""
    tokens = words(question)
    lowered = [t.lower() for t in tokens]
    if not tokens:
        return None
    opener = _CONTINUATIONS.match(question)
    if opener:
        return "ellipsis", f"continues the previous question ({opener.group(0).strip().lower()!r})"
    names = [i for i, t in enumerate(tokens) if _is_name(t, i, lexicon)]
    for i, word in enumerate(lowered):
        if any(n < i for n in names):
            break  # everything from here on can refer back to a name inside the question
        if word in _PRONOUNS:
            return "reference", f"pronoun {word!r} without an antecedent"
        if (
            word in _DEMONSTRATIVES
            and i + 1 not in names
            and _demonstrative_points_back(lowered, i)
        ):
            return "reference", f"{word!r} without an antecedent"
        if word == "there" and _there_is_a_place(lowered, i):
            return "reference", "'there' without an antecedent"
    content = [w for w in lowered if w not in _NOT_KEY and not w.isdigit()]
    if not names and len(tokens) <= SHORT_QUESTION_WORDS:
        return "ellipsis", "short question without a subject"
    if not content:
        return "ellipsis", "no content word"
    return None


def _demonstrative_points_back(lowered: list[str], i: int) -> bool:
    """ "that" at the end ("when was that?") or before a noun ("that command", "is that
    true?"); not a conjunction or relative pronoun ("said that ...", "the unit that will")."""
    if i == len(lowered) - 1:
        return True
    if lowered[i + 1] in _NOT_KEY:
        return False
    return i == 0 or lowered[i - 1] not in _REPORTING


def _there_is_a_place(lowered: list[str], i: int) -> bool:
    if i + 1 < len(lowered) and lowered[i + 1] in _BE:
        return False
    return not (i > 0 and lowered[i - 1] in _BE and i + 1 < len(lowered))


def key_terms(question: str, lexicon: Lexicon | None = None) -> list[str]:
    """Content words of a question, in order, one per stem: what a follow-up inherits."""
    out: list[str] = []
    seen: set[str] = set()
    for word in words(_MARKER.sub(" ", question)):
        lowered = word.lower()
        acronym = len(word) >= 2 and word.isupper() and word.isalpha()
        if (lowered in _NOT_KEY and not acronym) or len(lowered) < 2 or lowered.isdigit():
            continue
        if lexicon is not None and not lexicon.knows_word(word) and not _is_name(word, 1, lexicon):
            continue  # a word the articles never use cannot help retrieval
        key = stem(lowered)
        if key not in seen:
            seen.add(key)
            out.append(word)
    return out


def resolve(history: Sequence[Turn], question: str, lexicon: Lexicon | None = None) -> Resolution:
    """Resolve `question` against the user turns of `history` (oldest first).

    Two kinds of follow-up inherit different context. A reference ("where will *it* be
    based?") points at the topic, the last self-contained question, so a chain of such
    questions keeps that topic instead of piling up each other's words. An ellipsis ("how
    often?", "and NATO?") repeats the previous question with a change, so it inherits the
    previous question as resolved.
    """
    topic: str | None = None
    previous: str | None = None
    for turn in history:
        if turn.role != "user" or not turn.content.strip():
            continue
        step = _resolve_one(topic, previous, turn.content.strip(), lexicon)
        if step.kind is None:
            topic = step.question
        previous = step.question
    return _resolve_one(topic, previous, question, lexicon)


def resolve_followup(history: Sequence[Turn], question: str, lexicon: Lexicon | None = None) -> str:
    """The question to retrieve with: `question` itself, or a follow-up plus the key terms
    of the earlier user question it depends on."""
    return resolve(history, question, lexicon).question


def _resolve_one(
    topic: str | None, previous: str | None, question: str, lexicon: Lexicon | None
) -> Resolution:
    found = detect_followup(question, lexicon)
    if found is None:
        return Resolution(question, question, None, None)
    kind, reason = found
    context = topic if kind == "reference" else previous
    if context is None:
        return Resolution(question, question, None, None)
    own = {stem(w.lower()) for w in words(question)}
    candidates = [t for t in key_terms(context, lexicon) if stem(t.lower()) not in own]
    added = tuple(_most_specific(candidates, question, lexicon))
    if not added:
        return Resolution(question, question, kind, reason)
    return Resolution(f"{question.rstrip()} ({' '.join(added)})", question, kind, reason, added)


def _most_specific(terms: list[str], question: str, lexicon: Lexicon | None) -> list[str]:
    """The rarest few of the inherited terms, in their original order.

    "he"/"she" point at a person: when the context names someone specific, only the name
    is inherited, not what was asked about them.
    """
    if lexicon is None:
        return terms[:MAX_ADDED_TERMS]
    pool = terms
    if any(w.lower() in _PERSONAL for w in words(question)):
        names = [t for t in terms if _is_name(t, 1, lexicon) and lexicon.share(t) <= SPECIFIC_SHARE]
        pool = names or terms
    keep = set(sorted(pool, key=lexicon.share)[:MAX_ADDED_TERMS])
    return [t for t in pool if t in keep]
