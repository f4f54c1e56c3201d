"""Extractive answering: pick the sentences that answer, cite them, or abstain.

No generative model is involved. Each candidate sentence from the retrieved passages is
scored from general signals:
  * dense similarity of the question to the sentence and to its passage,
  * coverage of the question's terms, weighted by rarity (IDF), in the sentence and its
    neighbours,
  * whether the sentence holds what the question asks for (a number for "how many",
    a name for "who", a date for "when", ...).
The best sentence answers; a second is added when the question has a part the first leaves
uncovered (comparisons, two-part questions) or when a differently dated article gives a
different account (time conflicts). When the best support is weak, or the question's
subject never occurs in the articles, the answer abstains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, cast

from rag.answer.base import Selection
from rag.ingest import describe_date
from rag.store import LoadedIndex
from rag.text import Lexicon, bigrams, content_terms, jaccard, words
from rag.text.wordlists import (
    MONTH_ABBREVIATIONS,
    MONTH_NAMES,
    TITLE_ABBREVIATIONS,
    WEEKDAY_NAMES,
)
from rag.types import Citation, Document, Retrieval, Sentence

AnswerType = Literal["number", "person", "place", "date", "entity", "other"]

ABSTAIN_TEXT = "The articles don't say."
STRICT_TYPES = ("number", "person", "date")
MAX_ANSWER_CHARS = 300

# "one" is left out: far more often a pronoun ("no one") than an answer.
_NUMBER_WORDS = (
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|trillion|dozen|dozens|half|double|twice"
)
# A quantity, not a year ("2022") or a day of the month: those are dates.
_NUMBER = re.compile(
    rf"\$?\b(?!(?:19|20)\d\d\b)\d[\d,.]*%?(?!\s*-?\s*\d)|\b(?:{_NUMBER_WORDS})\b(?!-[a-z])",
    re.IGNORECASE,
)
_MONTH = "|".join([*MONTH_NAMES, *(rf"{a.capitalize()}\." for a in MONTH_ABBREVIATIONS)])
_WEEKDAY = "|".join(WEEKDAY_NAMES)
_DATE = re.compile(
    rf"\b(?:{_MONTH})(?!\w)|\b(?:19|20)\d\d\b|\b(?:{_WEEKDAY})\b|"
    r"\b(?:last|next|this) (?:week|month|year)\b|"
    rf"\bend of (?:the )?(?:(?:19|20)\d\d|year|month|week|{_MONTH})|"
    r"\b(?:19|20)?\d0s\b|\bdecades?\b|\b(?:years|months|weeks|days) ago\b",
)
# A person's name: two or more capitalised words ("Ivo Daalder", "Jens Stoltenberg"), or a
# title and a surname ("Sec. Austin", "Gen. Cavoli").
_NAME = re.compile(
    r"\b[A-Z][a-zá-ž'’]+(?:\s+(?:[A-Z]\.\s+)?[A-Z][a-zá-ž'’]+)+\b|"
    rf"\b(?:{'|'.join(TITLE_ABBREVIATIONS)})\.\s+[A-Z][a-zá-ž'’]+"
)
_TITLED = re.compile(rf"(?:{'|'.join(TITLE_ABBREVIATIONS)})\.")
# Capitalised words that open a sentence or name a role, not a person: "In Brussels",
# "Defense Secretary".
_NOT_NAME_WORDS = frozenset(
    "the a an in on at as for from to by with after before since while under but and or "
    "this that these those his her their its our secretary defense defence foreign state "
    "minister prime president vice general army navy senior former deputy acting chief".split()
)
# Names of bodies, not people: "Ukraine Defense Contact Group", "National Security Council".
_ORGANISATION = re.compile(
    r"\b(?:Group|Council|Organization|Organisation|Command|Department|Office|Center|Centre|"
    r"Agency|Union|Alliance|Treaty|Ministry|Forces|Army|Journal|Times|Post|House|Congress|"
    r"Parliament|Committee|Assistance|Ukraine|Europe|States|Kingdom|Korea|Affairs|Policy)$"
)
# Who-questions answered by a role rather than a name ("led by the U.S. defense secretary").
_ROLE_WORD = re.compile(
    r"\b(?:secretary|minister|president|chief|official|ambassador|general|commander|envoy|"
    r"spokesperson|spokesman|director|diplomat|chancellor|prime minister)\b",
    re.IGNORECASE,
)
_IDENTITY = re.compile(r"\s*who\s+(?:is|was|are|were|will be|would be|has been)\b", re.I)
HOLDS = 0.75  # type_match at or above this: the sentence holds the kind of thing asked for
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z-]+")
_COMPARATIVE = re.compile(
    r"\bcompare[sd]?\b|\bcomparison\b|\bversus\b|\bvs\.?\b|\bdiffer(?:ence|ent)?\b|\bboth\b|"
    r"\bbetween\b|\bthan\b",
    re.IGNORECASE,
)


@dataclass
class QuestionProfile:
    text: str
    terms: dict[str, float]  # stemmed content term -> weight (IDF)
    unknown_terms: list[str]  # content words that occur nowhere in the articles
    unknown_subject: list[str]  # unknown words naming what is asked about, or a named entity
    expects: AnswerType
    comparative: bool
    multi_part: bool
    pair: bool = False  # "which two ...", "both": a parallel second fact
    about_state: bool = False


@dataclass
class Candidate:
    sentence: Sentence
    dense: float
    passage_dense: float
    coverage: float
    context_coverage: float
    type_match: float
    phrase: float = 0.0  # share of the question's adjacent term pairs found in the sentence
    matched: set[str] = field(default_factory=set)
    score: float = 0.0


@dataclass(frozen=True)
class Weights:
    dense: float = 1.0
    passage_dense: float = 0.3
    coverage: float = 0.8
    context_coverage: float = 0.2
    type_match: float = 0.3
    phrase: float = 0.3
    # Midway between the best off-topic score (~0.8) and the weakest answerable one (~1.2) seen
    # on the development questions.
    abstain_below: float = 1.0
    second_ratio: float = 0.8  # a second sentence must score this share of the first
    conflict_ratio: float = 0.9
    state_ratio: float = 0.75
    part_ratio: float = 0.6
    context_ratio: float = 0.75
    next_ratio: float = 0.65  # the adjacent sentence: a weaker match is enough


_HOW_MUCH = re.compile(
    r"\bhow (?:many|much|large|big|long|often|old|strong|quickly|fast)\b|"
    r"\bin (?:size|number|strength)\b"
)
ATTRIBUTE_NOUNS = frozenset("population cost price budget salary funding value financial".split())
# Head nouns that name the *kind* of answer wanted ("which city", "what body"): they need
# not occur in the articles, unlike the subject asked about.
TYPE_NOUNS = {
    "place": frozenset("city cities town place location capital venue base site".split()),
    "date": frozenset("date day year month time deadline".split()),
    "person": frozenset(
        "official officials person people leader leaders minister ministers envoy ambassador "
        "ambassadors spokesperson commander cabinet politician diplomat diplomats who".split()
    ),
    "entity": frozenset(
        "body organization organisation group agency institution unit country countries nation "
        "nations ally allies state states outlet newspaper company companies party parties "
        "region regions".split()
    ),
    # nouns asking for a quantity: "what percentage", "by what margin"
    "number": frozenset(
        "number percentage share amount size proportion sum total margin figure".split()
    )
    | ATTRIBUTE_NOUNS,
}
_GENERIC_ADJECTIVES = frozenset(
    "asian african european american latin nordic scandinavian baltic arab balkan western "
    "eastern northern southern foreign".split()
)
# An attribute asked about ("the population of Wiesbaden") is the subject: if the articles
# never mention it, they do not answer.
_NOT_SUBJECT = frozenset().union(*TYPE_NOUNS.values(), _GENERIC_ADJECTIVES) - ATTRIBUTE_NOUNS
_AUX = r"(?:did|does|do|has|have|had|is|are|was|were|will|would|can|could|should|might|may)"
_FOCUS = (
    re.compile(rf"\bhow (?:many|much)\s+((?:[\w-]+\s+){{0,3}}?[\w-]+?)\s+{_AUX}\b", re.I),
    re.compile(
        r"\bwhat (?:is|was|are|were) (?:the|a|an) ([\w-]+(?:\s+[\w-]+)?)\s+"
        r"(?:of|for|in|on|at|to|behind)\b",
        re.I,
    ),
    re.compile(rf"\b(?:what|which) ((?:[\w-]+\s+){{0,2}}[\w-]+)\s+{_AUX}\b", re.I),
    # "What did NATO say about <climate change>?"
    re.compile(r"\babout ((?:[\w-]+\s+){0,2}[\w-]+)\s*\??\s*$", re.I),
    # "What is the Wiesbaden command's annual <budget>?"
    re.compile(
        r"\bwhat (?:is|was|are|were) (?:the|a|an) (?:[\w'’-]+\s+){0,4}?([\w-]+)\s*\?\s*$", re.I
    ),
)
_WHICH_WORDS = re.compile(r"\b(?:which|what)((?:\s+[\w-]+){1,4})", re.I)
_COPULA = frozenset("is was are were".split())
_SKIP = _COPULA | frozenset("the a an two three its their of".split())
_DAY_OF_MONTH = re.compile(rf"\b(?:{_MONTH})\s+\d{{1,2}}(?:\s*[-–]\s*\d{{1,2}})?\b")
_CALENDAR = re.compile(rf"^(?:{_MONTH}|{_WEEKDAY})$")
# Questions about a state of affairs, which articles of different dates may report differently.
_STATE = re.compile(
    rf"^\s*{_AUX}\b|\b(?:yet|still|now|currently|anymore|so far|status|latest|today|firm)\b|"
    r"^\s*who (?:is|are) (?:the |now )?",
    re.I,
)
_MULTI_PART = re.compile(
    r",?\s+and\s+(?:\w+\s+){0,2}?(?:how|what|which|who|whom|when|where|why)\b", re.I
)
_PAIR = re.compile(r"\b(?:two|both|each)\b", re.I)


def expected_type(question: str) -> AnswerType:
    """What kind of thing answers the question: "how many" a number, "who" a person, ...,
    "which/what <noun>" whatever kind the noun names ("which city", "what percentage")."""
    q = question.lower()
    if _HOW_MUCH.search(q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (?:year|month|date|day)\b|\bby what date\b", q):
        return "date"
    if re.search(r"\bwho(?:m|se)?\b", q):
        return "person"
    if re.search(r"\bwhere\b", q):
        return "place"
    for match in _WHICH_WORDS.finditer(q):
        following = match.group(1).split()
        # "what is the <population> of": only a quantity noun there names the answer's kind;
        # "what is the Ramstein <Group>" names the subject.
        kinds = ("number",) if following[0] in _COPULA else tuple(TYPE_NOUNS)
        for word in following:
            if word in _SKIP:
                continue
            for kind in kinds:
                if word in TYPE_NOUNS[kind]:
                    return cast(AnswerType, kind)
    if re.search(r"\bwhich\b", q):
        return "entity"
    return "other"


def profile_question(question: str, lexicon: Lexicon) -> QuestionProfile:
    terms: dict[str, float] = {}
    unknown: list[str] = []
    for word in words(question):
        for term in content_terms(word):
            if term not in terms:
                terms[term] = lexicon.idf(term)
                if not lexicon.known(term) and not term.isdigit():
                    unknown.append(word)
    focus = focus_words(question)
    subject = [
        w
        for w in unknown
        if w.lower() not in _NOT_SUBJECT and (w in focus or _is_entity(w, question))
    ]
    return QuestionProfile(
        text=question,
        terms=terms,
        unknown_terms=unknown,
        unknown_subject=subject,
        expects=expected_type(question),
        comparative=bool(_COMPARATIVE.search(question)),
        multi_part=bool(_MULTI_PART.search(question)),
        pair=bool(_PAIR.search(question)),
        about_state=bool(_STATE.search(question)),
    )


def focus_words(question: str) -> set[str]:
    """Words naming the thing asked about: "how many <jets>", "what is the <population> of"."""
    out: set[str] = set()
    for pattern in _FOCUS:
        for match in pattern.finditer(question):
            out.update(w for w in words(match.group(1)) if not re.fullmatch(_AUX, w.lower()))
    return out


def _is_entity(word: str, question: str) -> bool:
    """Capitalised mid-sentence (a name), or a code like "F-16"; month and day names aside."""
    if _CALENDAR.match(word):
        return False
    if any(ch.isdigit() for ch in word) and any(ch.isalpha() for ch in word):
        return True
    position = question.find(word)
    return word[:1].isupper() and position > 0 and not re.search(r"[.!?]\s*$", question[:position])


def _numbers(text: str) -> set[str]:
    """Quantities in a text as tokens ("700", "3", "million"); day-of-month numbers are dates."""
    undated = _DAY_OF_MONTH.sub(" ", text)
    return {m.group(0).lower().rstrip(".,") for m in _NUMBER.finditer(undated)}


def person_names(sentence: str) -> list[str]:
    """Capitalised runs that look like a person's name, minus openers and role words
    ("In Brussels", "Defense Secretary Lloyd Austin" -> "Lloyd Austin") and bodies."""
    out = []
    for match in _NAME.findall(sentence):
        if _TITLED.match(match):
            out.append(match)
            continue
        kept = match.split()
        while kept and kept[0].lower() in _NOT_NAME_WORDS:
            kept.pop(0)
        name = " ".join(kept)
        if len(kept) >= 2 and not _ORGANISATION.search(name):
            out.append(name)
    return out


def type_match(expects: AnswerType, sentence: str, question: str) -> float:
    """1.0 when the sentence holds the kind of thing asked for (and not just the question's own)."""
    if expects == "other":
        return 0.5
    q_lower = question.lower()
    if expects == "number":
        return 1.0 if _numbers(sentence) - _numbers(question) else 0.0
    if expects == "date":
        return 1.0 if _DATE.search(sentence) else 0.0
    if expects == "person":
        if any(n.lower() not in q_lower for n in person_names(sentence)):
            return 1.0
        if _IDENTITY.match(question):
            return 0.0  # "who is/will be X": only a name answers
        roles = [r for r in _ROLE_WORD.findall(sentence) if r.lower() not in q_lower]
        return HOLDS if roles else 0.0
    caps = [c for c in _CAPITALISED.findall(sentence) if c.lower() not in q_lower]
    return 1.0 if caps else 0.0


def coverage(profile: QuestionProfile, terms: set[str]) -> tuple[float, set[str]]:
    total = sum(profile.terms.values())
    if not total:
        return 0.0, set()
    matched = {t for t in profile.terms if t in terms or _prefix_match(t, terms)}
    return sum(profile.terms[t] for t in matched) / total, matched


def _prefix_match(term: str, terms: set[str]) -> bool:
    # Stems of one word family can still differ ("deliveri"/"deliv"): one, at least five
    # letters long, begins the other.
    return len(term) >= 5 and any(
        len(t) >= 5 and (t.startswith(term) or term.startswith(t)) for t in terms
    )


class ExtractiveAnswerer:
    """`lexicon` must be built from `index.sentences` (its per-sentence terms are reused)."""

    def __init__(self, index: LoadedIndex, lexicon: Lexicon, weights: Weights | None = None):
        self.index = index
        self.lexicon = lexicon
        self.weights = weights or Weights()
        sentence_terms = lexicon.sentence_terms
        self._terms = [set(terms) for terms in sentence_terms]
        self._pairs = [set(bigrams(list(terms))) for terms in sentence_terms]
        self._chunk_vectors = index.chunk_index.reconstruct_n(0, index.chunk_index.ntotal)
        self._neighbours = self._build_neighbours(index.sentences)

    @staticmethod
    def _build_neighbours(sentences: list[Sentence]) -> list[tuple[int, ...]]:
        out = []
        for i, s in enumerate(sentences):
            near = [
                j
                for j in (i - 1, i + 1)
                if 0 <= j < len(sentences) and sentences[j].doc_id == s.doc_id
            ]
            out.append(tuple(near))
        return out

    def candidates(
        self, question: str, retrieval: Retrieval
    ) -> tuple[QuestionProfile, list[Candidate]]:
        profile = profile_question(retrieval.query, self.lexicon)
        w = self.weights
        seen: dict[int, float] = {}
        for passage in retrieval.passages:
            if passage.chunk_id is None:
                continue  # not from this index
            chunk = self.index.chunks[passage.chunk_id]
            passage_dense = float(self._chunk_vectors[chunk.chunk_id] @ retrieval.query_vector)
            for sid in chunk.sentence_ids:
                seen[sid] = max(seen.get(sid, -1.0), passage_dense)
        if not seen:
            return profile, []
        ids = list(seen)
        dense = self.index.sentence_vectors[ids] @ retrieval.query_vector
        question_pairs = set(bigrams(content_terms(retrieval.query)))
        out = []
        for sid, sim in zip(ids, dense, strict=True):
            sentence = self.index.sentences[sid]
            cov, matched = coverage(profile, self._terms[sid])
            context_terms = set().union(
                *(self._terms[j] for j in self._neighbours[sid]), self._terms[sid]
            )
            ctx, _ = coverage(profile, context_terms)
            cand = Candidate(
                sentence=sentence,
                dense=float(sim),
                passage_dense=seen[sid],
                coverage=cov,
                context_coverage=ctx,
                type_match=type_match(profile.expects, sentence.text, question),
                phrase=len(question_pairs & self._pairs[sid]) / max(len(question_pairs), 1),
                matched=matched,
            )
            cand.score = (
                w.dense * cand.dense
                + w.passage_dense * cand.passage_dense
                + w.coverage * cand.coverage
                + w.context_coverage * cand.context_coverage
                + w.type_match * cand.type_match
                + w.phrase * cand.phrase
            )
            out.append(cand)
        out.sort(key=lambda c: -c.score)
        return profile, out

    def answer(self, question: str, retrieval: Retrieval) -> Selection:
        profile, ranked = self.candidates(question, retrieval)
        if not ranked or self._should_abstain(profile, ranked[0]):
            return Selection(True, self._abstain_text(profile), [], ranked)
        chosen = self._primary(profile, ranked)
        if not chosen:
            return Selection(True, ABSTAIN_TEXT, [], ranked)
        if len(chosen) == 1 and (second := self._second(profile, ranked, chosen[0])):
            chosen.append(second)
        text, citations = self._compose(chosen, profile)
        return Selection(False, text, citations, ranked)

    def _primary(self, profile: QuestionProfile, ranked: list[Candidate]) -> list[Candidate]:
        """The answering sentence(s); empty when nothing near the top holds what was asked."""
        best = ranked[0]
        if profile.expects == "other" or best.type_match >= HOLDS:
            return [best]
        w = self.weights
        holders = [c for c in ranked[1:8] if c.type_match >= HOLDS]
        near = set(self._neighbours[best.sentence.sent_id])
        # The best match sets the topic but lacks what was asked (no number for "how much"):
        # the fact often sits in the very next sentence, which continues the thought.
        for cand in holders:
            if cand.sentence.sent_id in near and cand.score >= w.next_ratio * best.score:
                return [best, cand]
        # Or another sentence, as much on topic, holds it.
        for cand in holders:
            if cand.score >= w.context_ratio * best.score and cand.coverage >= 0.8 * best.coverage:
                return [cand]
        if profile.expects in STRICT_TYPES:
            return []  # a number, name or date was asked for and none is on topic
        return [best]

    def _should_abstain(self, profile: QuestionProfile, best: Candidate) -> bool:
        # The thing asked about never occurs in the articles: whatever matches is about
        # something else (the population *of Wiesbaden*, jets delivered *by Denmark*).
        if profile.unknown_subject:
            return True
        return best.score < self.weights.abstain_below

    @staticmethod
    def _abstain_text(profile: QuestionProfile) -> str:
        if profile.unknown_subject:
            shown = dict.fromkeys(
                t if len(t) <= 40 else t[:39] + "…" for t in profile.unknown_subject
            )
            missing = ", ".join(f"“{t}”" for t in list(shown)[:3])
            return f"{ABSTAIN_TEXT} None of them mentions {missing}."
        return ABSTAIN_TEXT

    def _second(
        self, profile: QuestionProfile, ranked: list[Candidate], first: Candidate
    ) -> Candidate | None:
        """A second sentence for a second part of the question, or a differently dated account."""
        w = self.weights
        uncovered = {t: v for t, v in profile.terms.items() if t not in first.matched}
        total = sum(profile.terms.values()) or 1.0
        wants_two = profile.comparative or profile.multi_part
        typed = profile.expects != "other"
        eligible = [
            c
            for c in ranked[:8]
            if c is not first
            and not self._redundant(first, c)
            # the second fact must be of the asked kind too, unless it answers another part
            and not (
                typed
                and not profile.multi_part
                and first.type_match >= HOLDS
                and c.type_match < HOLDS
            )
        ]

        def adds(cand: Candidate) -> float:
            return sum(v for t, v in uncovered.items() if t in cand.matched) / total

        if profile.pair:
            # "Which two ambassadors...": a sentence matching the question the way the first
            # does, about another instance.
            parallel = [
                c
                for c in eligible
                if c.score >= w.second_ratio * first.score
                and c.coverage >= 0.6 * first.coverage
                and len(c.matched & first.matched) >= 0.5 * len(first.matched | c.matched)
            ]
            if parallel:
                return max(parallel, key=lambda c: c.coverage)
        if profile.multi_part and (part := self._later_part(profile, eligible, first)):
            return part
        if wants_two:
            # The other part of the question: the strong sentence covering most of what the
            # first one leaves out.
            parts = [
                c
                for c in eligible
                if c.score >= w.second_ratio * first.score
                and (adds(c) > 0.05 or c.sentence.doc_id != first.sentence.doc_id)
            ]
            if parts:
                return max(parts, key=lambda c: adds(c) + 0.5 * c.score / first.score)
        for cand in eligible:
            if self._conflicting(first, cand) and (
                # A question about a state of affairs ("is it operational yet?") invites
                # every dated account; otherwise only an equally strong one is added.
                (
                    profile.about_state
                    and cand.score >= w.state_ratio * first.score
                    and cand.coverage >= 0.6 * first.coverage
                )
                or (
                    cand.score >= w.conflict_ratio * first.score
                    and cand.coverage >= 0.8 * first.coverage
                    and cand.dense >= first.dense - 0.1
                )
            ):
                return cand
        return None

    def _later_part(
        self, profile: QuestionProfile, eligible: list[Candidate], first: Candidate
    ) -> Candidate | None:
        """For "X, and what Y?": the sentence that best covers the part after the "and"."""
        match = _MULTI_PART.search(profile.text)
        if match is None:
            return None
        tail = profile.text[match.start() :]
        weights = {t: profile.terms[t] for t in content_terms(tail) if t in profile.terms}
        total = sum(weights.values())
        if not total:
            return None

        def part_coverage(cand: Candidate) -> float:
            return sum(v for t, v in weights.items() if t in cand.matched) / total

        first_coverage = part_coverage(first)
        options = [
            c
            for c in eligible
            if part_coverage(c) > first_coverage
            and c.score >= self.weights.part_ratio * first.score
        ]
        # Both terms on a 0-1 scale: coverage of the later part, score relative to the first.
        return max(
            options, key=lambda c: part_coverage(c) + 0.5 * c.score / first.score, default=None
        )

    def _redundant(self, a: Candidate, b: Candidate) -> bool:
        return jaccard(self._terms[a.sentence.sent_id], self._terms[b.sentence.sent_id]) > 0.5

    def _conflicting(self, a: Candidate, b: Candidate) -> bool:
        """Two strong sentences from articles of different months: give both, in time order."""
        da = self.index.documents[a.sentence.doc_id].sort_date
        db = self.index.documents[b.sentence.doc_id].sort_date
        return da is not None and db is not None and da[:7] != db[:7]

    def _fit(
        self, chosen: list[Candidate], profile: QuestionProfile, labels: list[str]
    ) -> list[tuple[int, int]]:
        """Sentence spans, the longest cut to its best clauses until the answer (with its
        labels, ellipses and markers) fits in MAX_ANSWER_CHARS."""
        spans = [(c.sentence.start, c.sentence.end) for c in chosen]
        overhead = sum(len(label) for label in labels) + 7 * len(spans)
        floor = (MAX_ANSWER_CHARS - overhead) // len(chosen)
        # Cut context before the sentence that holds what was asked, longest first.
        order = sorted(
            range(len(chosen)),
            key=lambda i: (chosen[i].type_match, -(spans[i][1] - spans[i][0])),
        )
        for i in order:
            total = sum(e - s for s, e in spans) + overhead
            if total <= MAX_ANSWER_CHARS:
                break
            others = total - (spans[i][1] - spans[i][0])
            budget = max(MAX_ANSWER_CHARS - others, floor)
            doc = self.index.documents[chosen[i].sentence.doc_id]
            spans[i] = trim_to_budget(doc.text, chosen[i], budget, profile)
        return spans

    def _compose(
        self, chosen: list[Candidate], profile: QuestionProfile
    ) -> tuple[str, list[Citation]]:
        docs = self.index.documents
        dated = len(chosen) > 1 and self._conflicting(chosen[0], chosen[1])
        if dated:
            chosen = sorted(chosen, key=lambda c: docs[c.sentence.doc_id].sort_date or "")
        elif len(chosen) > 1 and chosen[0].sentence.doc_id == chosen[1].sentence.doc_id:
            chosen = sorted(chosen, key=lambda c: c.sentence.start)  # read in article order
        # Accounts that differ in time each say when they were reported.
        labels = [f"{_when(docs[c.sentence.doc_id])}: " if dated else "" for c in chosen]
        spans = self._fit(chosen, profile, labels)
        parts, citations = [], []
        for marker, (cand, (start, end)) in enumerate(zip(chosen, spans, strict=True), start=1):
            doc = docs[cand.sentence.doc_id]
            quote = doc.text[start:end]
            shown = quote.replace("\n", " ")
            if start > cand.sentence.start:
                shown = "…" + shown
            if end < cand.sentence.end:
                shown = shown + "…"
            parts.append(f"{labels[marker - 1]}{shown} [{marker}]")
            citations.append(
                Citation(
                    marker=marker,
                    doc_id=doc.doc_id,
                    title=doc.title,
                    date=doc.date,
                    start=start,
                    end=end,
                    quote=quote,
                    score=round(cand.score, 4),
                )
            )
        return " ".join(parts), citations


def _when(doc: Document) -> str:
    label = describe_date(doc)
    if label is None:
        return "Elsewhere"
    return ("On " if doc.date else "In ") + label


_CLAUSE_BREAK = re.compile(r"[,;:—–][\"”’]?\s+|\s+[—–]\s+")


def trim_to_budget(
    text: str, cand: Candidate, budget: int, profile: QuestionProfile
) -> tuple[int, int]:
    """The sentence span, or its best-covering run of clauses when the sentence is too long."""
    s = cand.sentence
    if s.end - s.start <= budget:
        return s.start, s.end
    body = text[s.start : s.end]
    bounds = [0] + [m.end() for m in _CLAUSE_BREAK.finditer(body)] + [len(body)]
    top_weight = max(profile.terms.values(), default=1.0) or 1.0
    best: tuple[float, int, int] | None = None
    for i in range(len(bounds) - 1):
        for j in range(i + 1, len(bounds)):
            lo, hi = bounds[i], bounds[j]
            piece = body[lo:hi].rstrip(" ,;:—–")
            overlong = len(piece) > budget - 2
            if overlong:  # a clause run too long to fit is cut at a word and ends the run
                piece = piece[: _cut_at_word(piece, budget - 2)].rstrip(" ,;:—–")
            terms = set(content_terms(piece))
            holds = _holding_strength(profile, piece)
            # Rare question terms locate the answer; common ones ("NATO") are everywhere.
            weight = sum(profile.terms[t] for t in cand.matched & terms)
            gain = weight / top_weight + 0.5 * holds + 0.01 * len(piece) / budget
            if piece and (best is None or gain > best[0]):
                best = (gain, lo, lo + len(piece))
            if overlong:
                break
    if best is None:
        return s.start, s.start + _cut_at_word(body, budget - 1)
    return s.start + best[1], s.start + best[2]


def _holding_strength(profile: QuestionProfile, piece: str) -> float:
    """How much of the asked-for kind a clause holds: names count per new capitalised word
    (so "said Douglas Lute" beats "a retired Army general"), other kinds are yes/no."""
    if profile.expects in ("person", "entity", "place"):
        q_lower = profile.text.lower()
        new = {c for c in _CAPITALISED.findall(piece) if c.lower() not in q_lower}
        return min(len(new), 3) / 1.5
    return 2.0 * (type_match(profile.expects, piece, profile.text) >= 1)


def _cut_at_word(body: str, limit: int) -> int:
    cut = body.rfind(" ", 0, limit)
    return cut if cut > 0 else limit
