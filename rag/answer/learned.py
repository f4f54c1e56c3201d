"""The learned answer stage: score candidate sentences, compose a cited answer or abstain.

Candidates are the sentences of the retrieved passages. Each gets the features of
`features.FEATURES`, and the answer model's `sentence` head turns them into the probability
that the sentence holds the answer. The best sentence answers. A question of two parts
("Which ally ..., and what did its leader say?") has its last part embedded and scored on
its own, and the sentence that best answers that part joins. Otherwise the `complement` head
decides whether one of the next few completes the best one (the other side of a comparison,
the other date of a change, the other part of a question the parse did not split); a second
sentence joins when that probability reaches `second_min`. The `answerable` head reads
question-level evidence and the stage abstains below `abstain_below`, still citing the
nearest sentence so the user sees what the articles do say. Sentences are quoted whole:
nothing cuts the clause that holds the fact.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from rag.analyze import Annotator, QuestionAnalysis, SentenceAnnotation
from rag.answer.base import Selection
from rag.answer.features import FEATURES, CandidateView, coverage, featurize, term_weights
from rag.answer.model import AnswerModel
from rag.embed import WordVectors
from rag.ingest.corpus import describe_date
from rag.text import Lexicon, content_terms, is_vocabulary_word, term_words
from rag.text.tokens import fold
from rag.types import Citation, Document, Retrieval, Sentence

if TYPE_CHECKING:  # the store imports the answer model's hash: no import cycle at run time
    from rag.store import LoadedIndex

ABSTAIN_TEXT = "The articles don't say."
# When abstaining, the nearest sentence is shown only if the sentence head gives it at least
# even odds of answering: "thanks!" or "who won the Tour de France?" get no citation. Even
# odds by design, not fit: it decides what is shown, not what is counted.
NEAREST_MIN = 0.5
# Candidates the second sentence may come from: the next best few by score (the evidence's
# second sentence is within the top 6 for most multi-evidence training questions).
SECOND_POOL = 5
# Sentences describing X that a definition question adds to the retrieved ones: about one
# more passage's worth (RAG_CHUNK_SENTENCES is 3), so the feature pass costs about what
# answer_k + 1 passages would. Not fit: the 5-fold figures were the same with it as without.
DESCRIBING_MAX = 3
# Two sentences only while they stay readable together (two sentences of median length are
# about 380 characters); one long sentence is never cut.
MAX_TWO_SENTENCE_CHARS = 420
# A two-part question's second sentence, picked for its last part, joins while the two stay
# within this (looser than MAX_TWO_SENTENCE_CHARS: both parts need an answer). It only bounds
# the odd long pair: the 5-fold figures were the same with it as with no cap, and a floor on
# the part's score (0.2-0.5) did no better.
MAX_TWO_PART_CHARS = 560
# A question word the articles never use counts as known when some word of theirs is at
# least this close to it (cosine of the two words' embeddings): "yearly" is 0.82 from
# "annual", "ammo" 0.70 from "ammunition"; "hurdles" 0.57 from "obstacles" falls short.
# Nearness says the word is of the articles' kind, not that it means the same ("Finnish" is
# 0.78 from "Finland" and 0.66 from "Ukrainian"), which is what the answerable head asks.
# From `make spread` (docs/eval.md): 0.6 and 0.65 did as well as each other and better than
# exact words only, fit without the seeds, at every fold seed; 0.7 no better than exact words.
NEAR_WORD_MIN = 0.6
# Up to this many unknown words, every subset of them is tried to see whether their
# nearness could change the answer (2**3 rows for the answerable head, microseconds); a
# question with more has them embedded. 74 of the seeds' 159 questions have one or more.
NEAR_SUBSETS_MAX = 3

ANSWERABLE_FEATURES: tuple[str, ...] = (
    "top_score",
    "second_score",
    "max_dense",
    "max_coverage",
    "known_share",
    "entity_unknown",
    "top_type_missing",
    "top_entity_match",
    "typed",
    "best_typed_score",
    "focus_known",
    "unknown_weight",
)

COMPLEMENT_FEATURES: tuple[str, ...] = (
    "score",
    "first_score",
    "new_terms",
    "same_article",
    "adjacent",
    "multi_part",
    "comparison",
    "change",
    "yes_no",
    "dense",
    "type_match",
    # what the first pick leaves unsaid: the candidate's similarity to the part of the
    # question's embedding the first pick does not explain, its similarity to the first pick,
    # the question's (IDF-weighted) terms only it has, an answer type only it has, and an
    # account from another article when the question asks about change
    "residual_dense",
    "redundancy",
    "new_weighted_terms",
    "new_type",
    "change_x_other_article",
)
_COL = {name: i for i, name in enumerate(FEATURES)}
# Keeps the residual similarity finite when the first pick is the question's own wording
# (similarity 1 leaves nothing of the question unexplained); far below any real 1 - cos^2.
RESIDUAL_FLOOR = 1e-6


@dataclass(frozen=True)
class CorpusView:
    """What the stage reads about the indexed sentences, assembled once at load."""

    sentences: Sequence[Sentence]
    vectors: np.ndarray
    annotations: Sequence[SentenceAnnotation]
    lexicon: Lexicon
    neighbours: tuple[tuple[int, ...], ...]
    first_in_article: tuple[bool, ...]
    matchable: tuple[str, ...]  # each sentence folded and lower-cased, as entity names are
    # term -> sentences that describe it (appositive, copula, title): where "who is X?"
    # finds X described even when retrieval ranked other mentions of X higher
    described: Mapping[str, frozenset[int]]
    words: WordVectors  # the vocabulary's vectors, for question words the articles lack

    @classmethod
    def build(
        cls,
        sentences: Sequence[Sentence],
        vectors: np.ndarray,
        annotations: Sequence[SentenceAnnotation],
        lexicon: Lexicon,
        words: WordVectors | None = None,
    ) -> CorpusView:
        if not (len(sentences) == len(annotations) == len(lexicon.sentence_terms)):
            raise ValueError("sentences, annotations and lexicon are not aligned")
        neighbours: list[tuple[int, ...]] = []
        first: list[bool] = []
        docs = [s.doc_id for s in sentences]
        for i, doc in enumerate(docs):
            prev_same = i > 0 and docs[i - 1] == doc
            next_same = i + 1 < len(docs) and docs[i + 1] == doc
            neighbours.append(tuple(j for j, ok in ((i - 1, prev_same), (i + 1, next_same)) if ok))
            first.append(not prev_same)
        described: dict[str, set[int]] = defaultdict(set)
        for i, note in enumerate(annotations):
            for term in note.defines:
                described[term].add(i)
        return cls(
            sentences,
            vectors,
            annotations,
            lexicon,
            tuple(neighbours),
            tuple(first),
            tuple(fold(s.text).lower() for s in sentences),
            {t: frozenset(ids) for t, ids in described.items()},
            words if words is not None else WordVectors.empty(vectors.shape[1]),
        )

    def describing(self, terms: Sequence[str]) -> frozenset[int]:
        """Sentences that describe everything `terms` name."""
        sets = sorted((self.described.get(t, frozenset()) for t in set(terms)), key=len)
        if not sets:
            return frozenset()
        return sets[0].intersection(*sets[1:])

    def unknown_words(self, analysis: QuestionAnalysis) -> dict[str, str]:
        """The question's terms the articles never use, each with the word it was written
        as, when that is a word the vocabulary could hold: a number ("1999", "5bn") is in
        the articles or not, and no word of theirs is a paraphrase of it."""
        if all(self.lexicon.known(t) for t in analysis.terms):
            return {}  # then the question need not be tokenised again
        written = term_words(analysis.text)
        return {
            t: written[t]
            for t in dict.fromkeys(analysis.terms)
            if t in written and is_vocabulary_word(written[t]) and not self.lexicon.known(t)
        }

    def near_terms(self, unknown: Mapping[str, str], vectors: np.ndarray) -> frozenset[str]:
        """Those of `unknown` (term -> word, its word vectors in order) that some word of
        the articles comes within NEAR_WORD_MIN of."""
        close = self.words.best_similarity(vectors) >= NEAR_WORD_MIN
        return frozenset(t for t, near in zip(unknown, close, strict=True) if near)


@dataclass(frozen=True)
class Scored:
    """One question's candidates, their features and the model's scores."""

    analysis: QuestionAnalysis
    candidates: list[CandidateView]
    features: np.ndarray
    scores: np.ndarray
    question_features: np.ndarray
    # the same candidates scored for the question's last part, when it has two
    last_part: Scored | None = None
    term_weights: Mapping[str, float] = field(default_factory=dict)  # question term -> idf
    # question terms the articles never use but come near (CorpusView.near_terms)
    near_terms: frozenset[str] = frozenset()

    def rescored(self, model: AnswerModel, lexicon: Lexicon) -> Scored:
        """The same candidates under another model (training refits the heads)."""
        scores = model.sentence.probability(self.features) if self.candidates else np.zeros(0)
        qf = question_features(self.analysis, self.features, scores, lexicon, self.near_terms)
        part = self.last_part.rescored(model, lexicon) if self.last_part else None
        return replace(self, scores=scores, question_features=qf, last_part=part)


def candidate_sentences(
    chunk_ids: Sequence[int | None], chunk_sentences: Sequence[Sequence[int]]
) -> tuple[list[int], list[int]]:
    """Sentence ids of the retrieved passages (in passage order, each once) and the rank of
    the first passage holding each."""
    ids: list[int] = []
    ranks: list[int] = []
    seen: set[int] = set()
    for rank, chunk_id in enumerate(chunk_ids):
        if chunk_id is None:
            continue
        for sid in chunk_sentences[chunk_id]:
            if sid not in seen:
                seen.add(sid)
                ids.append(sid)
                ranks.append(rank)
    return ids, ranks


def definition_candidates(
    analysis: QuestionAnalysis,
    ids: Sequence[int],
    ranks: Sequence[int],
    query_vector: np.ndarray,
    corpus: CorpusView,
) -> tuple[list[int], list[int]]:
    """For "who/what is X?", the retrieved sentences plus the `DESCRIBING_MAX` sentences
    most similar to the question among those that describe X, ranked after every retrieved
    passage."""
    out_ids, out_ranks = list(ids), list(ranks)
    if not analysis.definition or not analysis.defined:
        return out_ids, out_ranks
    extra = sorted(corpus.describing(analysis.defined) - set(ids))
    if not extra:
        return out_ids, out_ranks
    similarity = corpus.vectors[extra] @ query_vector
    best = [extra[int(k)] for k in np.argsort(-similarity, kind="stable")[:DESCRIBING_MAX]]
    out_ids += best
    out_ranks += [max(ranks, default=-1) + 1] * len(best)
    return out_ids, out_ranks


def score_candidates(
    analysis: QuestionAnalysis,
    sentence_ids: Sequence[int],
    passage_rank: Sequence[int],
    query_vector: np.ndarray,
    corpus: CorpusView,
    model: AnswerModel | None,
) -> Scored:
    """Features and scores for one question; serving and `rag train` share this path.
    Every term the articles never use counts as unknown here (`LearnedAnswerer.score`
    counts those they come near as known)."""
    ids = list(sentence_ids)
    dense = corpus.vectors[ids] @ query_vector if ids else np.zeros(0)
    terms = corpus.lexicon.sentence_terms
    cands: list[CandidateView] = []
    for k, sid in enumerate(ids):
        context = set(terms[sid])
        context_dense = 0.0
        for j in corpus.neighbours[sid]:
            context.update(terms[j])
            context_dense = max(context_dense, float(corpus.vectors[j] @ query_vector))
        cands.append(
            CandidateView(
                sent_id=sid,
                doc_id=corpus.sentences[sid].doc_id,
                terms=terms[sid],
                annotation=corpus.annotations[sid],
                text=corpus.sentences[sid].text,
                matchable=corpus.matchable[sid],
                dense=float(dense[k]),
                context_dense=context_dense,
                passage_rank=passage_rank[k],
                context_terms=frozenset(context),
                first_in_article=corpus.first_in_article[sid],
                vector=corpus.vectors[sid],
                role=corpus.sentences[sid].role,
            )
        )
    x = featurize(analysis, cands, corpus.lexicon)
    scores = model.sentence.probability(x) if cands and model else np.zeros(len(cands))
    return Scored(
        analysis,
        cands,
        x,
        scores,
        question_features(analysis, x, scores, corpus.lexicon),
        term_weights=term_weights(analysis, corpus.lexicon),
    )


def question_features(
    analysis: QuestionAnalysis,
    x: np.ndarray,
    scores: np.ndarray,
    lexicon: Lexicon,
    near_terms: frozenset[str] = frozenset(),
) -> np.ndarray:
    """One row of `ANSWERABLE_FEATURES`. A term the articles come near (`near_terms`) counts
    as known in the question's share of known words: paraphrase is no sign of a question
    the articles cannot answer."""
    order = np.argsort(-scores, kind="stable")
    top = int(order[0]) if len(order) else -1
    known, unknown_weight = _known_columns(analysis.terms, lexicon, near_terms)
    entity_terms = [content_terms(text) for _, text in analysis.entities]
    unknown = [any(not lexicon.known(t) for t in ts) for ts in entity_terms if ts]
    has = len(x) > 0
    return np.array(
        [
            float(scores[top]) if has else 0.0,
            float(scores[order[1]]) if len(order) > 1 else 0.0,
            float(x[:, _COL["dense"]].max()) if has else 0.0,
            float(x[:, _COL["coverage"]].max()) if has else 0.0,
            known,
            sum(unknown) / len(unknown) if unknown else 0.0,
            float(x[top, _COL["type_missing"]]) if has else 0.0,
            float(x[top, _COL["entity_match"]]) if has else 0.0,
            float(bool(analysis.expects)),
            float((scores * x[:, _COL["type_match"]]).max()) if has and analysis.expects else 0.0,
            float(all(lexicon.known(t) for t in analysis.focus)) if analysis.focus else 1.0,
            unknown_weight,
        ],
        dtype=np.float64,
    )


# The answerable features that near terms move; every other one is the same whatever they are.
_NEAR_COLUMNS = [
    ANSWERABLE_FEATURES.index("known_share"),
    ANSWERABLE_FEATURES.index("unknown_weight"),
]


def _with_near(
    features: np.ndarray, terms: Sequence[str], lexicon: Lexicon, near_terms: frozenset[str]
) -> np.ndarray:
    """A question's `question_features` row, computed with no near terms, as it would be
    with `near_terms`: only the columns they move are computed again."""
    out = features.copy()
    out[_NEAR_COLUMNS] = _known_columns(terms, lexicon, near_terms)
    return out


def _known_columns(
    terms: Sequence[str], lexicon: Lexicon, near_terms: frozenset[str]
) -> tuple[float, float]:
    """`known_share` (of the terms, the articles use or come near) and `unknown_weight` (the
    share of their IDF weight in terms the articles neither use nor come near)."""
    if not terms:
        return 0.0, 0.0
    known = sum(lexicon.known(t) or t in near_terms for t in terms) / len(terms)
    weights = {t: lexicon.idf(t) for t in terms}
    total = sum(weights.values())
    unknown = sum(w for t, w in weights.items() if not lexicon.known(t) and t not in near_terms)
    return known, unknown / total if total else 0.0


def complement_features(scored: Scored, first: int, j: int) -> list[float]:
    """One row of `COMPLEMENT_FEATURES`: how candidate `j` would complete an answer that
    starts with candidate `first`."""
    a = scored.analysis
    cf, cj = scored.candidates[first], scored.candidates[j]
    weights = dict.fromkeys(a.terms, 1.0)
    new_terms = set(cj.terms) - set(cf.terms)
    redundancy = float(cj.vector @ cf.vector)
    # Unit vectors q, f, g: the part of q that f does not explain is r = q - (q.f) f, and
    # g.r / |r| = (g.q - (q.f)(g.f)) / sqrt(1 - (q.f)^2), with q.f = cf.dense, g.q = cj.dense.
    unexplained = math.sqrt(max(1.0 - cf.dense * cf.dense, RESIDUAL_FLOOR))
    first_types = {typ for typ, _ in cf.annotation.entities}
    own_types = {typ for typ, _ in cj.annotation.entities} - first_types
    return [
        float(scored.scores[j]),
        float(scored.scores[first]),
        coverage(weights, new_terms),
        float(cf.doc_id == cj.doc_id),
        float(cf.doc_id == cj.doc_id and abs(cf.sent_id - cj.sent_id) == 1),
        float(a.multi_part),
        float(a.comparison),
        float(a.change),
        float(a.form == "yes-no"),
        float(scored.features[j, _COL["dense"]]),
        float(scored.features[j, _COL["type_match"]]),
        (cj.dense - cf.dense * redundancy) / unexplained,
        redundancy,
        coverage(scored.term_weights, new_terms),
        float(bool(own_types & set(a.expects))),
        float(a.change and cf.doc_id != cj.doc_id),
    ]


def second_options(scored: Scored) -> tuple[int, list[int]]:
    """The first pick and the candidates that may join it."""
    order = [int(i) for i in np.argsort(-scored.scores, kind="stable")]
    return order[0], order[1 : 1 + SECOND_POOL]


def choose(scored: Scored, model: AnswerModel) -> tuple[list[int], bool]:
    """Indexes into `scored.candidates` of the sentences to cite, and whether to abstain."""
    if not scored.candidates:
        return [], True
    first, options = second_options(scored)
    chosen = [first]
    part = scored.last_part  # scored over the same (non-empty) candidates
    best_for_part = int(np.argmax(part.scores)) if part is not None else first
    if (
        best_for_part != first
        and len(scored.candidates[first].text) + len(scored.candidates[best_for_part].text)
        <= MAX_TWO_PART_CHARS
    ):
        # a question of two parts: the sentence that best answers its last part joins (when
        # the first pick answers that part already, the complement head decides as usual)
        chosen.append(best_for_part)
    elif options:
        p = model.complement.probability(
            np.array([complement_features(scored, first, j) for j in options])
        )
        k = int(np.argmax(p))
        together = len(scored.candidates[first].text) + len(scored.candidates[options[k]].text)
        if p[k] >= model.second_min and together <= MAX_TWO_SENTENCE_CHARS:
            chosen.append(options[k])
    p_answerable = float(model.answerable.probability(scored.question_features.reshape(1, -1))[0])
    return chosen, p_answerable < model.abstain_below


class LearnedAnswerer:
    """The default answer stage. Build it with `from_index` once per loaded index."""

    def __init__(
        self,
        corpus: CorpusView,
        documents: dict[str, Document],
        chunk_sentences: Sequence[Sequence[int]],
        annotator: Annotator,
        model: AnswerModel,
        encode: Callable[[Sequence[str]], np.ndarray] | None = None,
        lazy_near: bool = True,
    ) -> None:
        self.corpus = corpus
        self.documents = documents
        self.chunk_sentences = chunk_sentences
        self.annotator = annotator
        self.model = model
        # the query embedder (texts -> unit vectors), for the last part of a two-part
        # question and for question words the articles do not use. Without it such a
        # question's second sentence comes from the complement head like any other's, and
        # only the articles' own words count as known.
        self.encode = encode
        # Embed a question's unknown words only when they could change whether `model`
        # abstains (serving); False embeds them for every question, as `rag train` needs:
        # it refits the heads, so any question's decision may turn on them.
        self.lazy_near = lazy_near

    @classmethod
    def from_index(
        cls,
        index: LoadedIndex,
        lexicon: Lexicon,
        annotator: Annotator,
        model: AnswerModel,
        encode: Callable[[Sequence[str]], np.ndarray] | None = None,
        lazy_near: bool = True,
    ) -> LearnedAnswerer:
        """Assemble the stage and load the question parser (so no question pays for it)."""
        corpus = CorpusView.build(
            index.sentences,
            index.sentence_vectors,
            index.annotations,
            lexicon,
            index.word_vectors,
        )
        return cls(
            corpus,
            index.documents,
            [c.sentence_ids for c in index.chunks],
            annotator.load(),
            model,
            encode,
            lazy_near,
        )

    def analyse(self, retrieval: Retrieval) -> QuestionAnalysis:
        """The question analysis the pipeline made (on the question as retrieval searched
        it, spelling repaired), or one made now for a caller that skipped that stage."""
        return retrieval.analysis or self.annotator.question(retrieval.query)

    def score(self, retrieval: Retrieval) -> Scored:
        """Candidates, their features and scores (serving and `rag train` share it)."""
        analysis = self.analyse(retrieval)
        ids, ranks = self.candidates(retrieval, analysis)
        scored = score_candidates(
            analysis, ids, ranks, retrieval.query_vector, self.corpus, self.model
        )
        if self.encode is None:
            return scored
        part = analysis.last_part if ids else None
        unknown = self.corpus.unknown_words(analysis)
        if self.lazy_near and not self._near_matters(scored, unknown):
            unknown = {}
        # One `encode` call for the last part and the unknown words alike.
        texts = ([part.text] if part is not None else []) + list(unknown.values())
        if not texts:
            return scored
        vectors = self.encode(texts)
        if unknown:
            near = self.corpus.near_terms(unknown, vectors[len(texts) - len(unknown) :])
            features = _with_near(
                scored.question_features, analysis.terms, self.corpus.lexicon, near
            )
            scored = replace(scored, near_terms=near, question_features=features)
        if part is None:
            return scored
        return replace(
            scored,
            last_part=score_candidates(part, ids, ranks, vectors[0], self.corpus, self.model),
        )

    def _near_matters(self, scored: Scored, unknown: Mapping[str, str]) -> bool:
        """Whether counting some of `unknown` as known could change whether this model
        abstains: if no subset of them would, embedding them (a model call each) can be
        skipped and the answer is the same."""
        if not unknown or not scored.candidates:
            return False
        if len(unknown) > NEAR_SUBSETS_MAX:
            return True
        subsets = [
            frozenset(subset)
            for k in range(len(unknown) + 1)
            for subset in itertools.combinations(unknown, k)
        ]
        terms, lexicon = scored.analysis.terms, self.corpus.lexicon
        rows = np.vstack([_with_near(scored.question_features, terms, lexicon, s) for s in subsets])
        abstains = self.model.answerable.probability(rows) < self.model.abstain_below
        return bool(abstains.any() and not abstains.all())

    def candidates(
        self, retrieval: Retrieval, analysis: QuestionAnalysis
    ) -> tuple[list[int], list[int]]:
        """Candidate sentence ids and their passage ranks (serving and training share it)."""
        ids, ranks = candidate_sentences(
            [p.chunk_id for p in retrieval.passages], self.chunk_sentences
        )
        return definition_candidates(analysis, ids, ranks, retrieval.query_vector, self.corpus)

    def answer(self, question: str, retrieval: Retrieval) -> Selection:
        return self.select(self.score(retrieval), self.model)

    def select(self, scored: Scored, model: AnswerModel) -> Selection:
        """The answer `model` gives for scored candidates (`rag train` measures through here
        too, so its figures are those of the served answers)."""
        chosen, abstain = choose(scored, model)
        if not chosen or (abstain and scored.scores[chosen[0]] < NEAREST_MIN):
            return Selection(True, ABSTAIN_TEXT, [], scored.candidates)
        text, citations = self.compose(scored, chosen, abstain)
        return Selection(abstain, text, citations, scored.candidates)

    def compose(
        self, scored: Scored, chosen: list[int], abstain: bool
    ) -> tuple[str, list[Citation]]:
        """The answer text with `[n]` markers, and its citations. When abstaining, the
        nearest sentence is shown as what the articles do say."""
        picked = chosen[:1] if abstain else list(chosen)
        docs = self.documents
        picks = [scored.candidates[i] for i in picked]
        dated = (
            scored.analysis.change
            and len(picks) > 1
            and picks[0].doc_id != picks[1].doc_id
            and all(docs[c.doc_id].sort_date for c in picks)
            and docs[picks[0].doc_id].sort_date != docs[picks[1].doc_id].sort_date
        )
        if dated:  # accounts of different dates: in time order, each saying when
            picked.sort(key=lambda i: docs[scored.candidates[i].doc_id].sort_date or "")
        elif len(picks) > 1 and picks[0].doc_id == picks[1].doc_id:
            picked.sort(key=lambda i: scored.candidates[i].sent_id)  # one article: its order
        parts: list[str] = []
        citations: list[Citation] = []
        for marker, index in enumerate(picked, start=1):
            cand = scored.candidates[index]
            sentence = self.corpus.sentences[cand.sent_id]
            doc = docs[cand.doc_id]
            label = f"{_when(doc)}: " if dated else ""
            parts.append(f"{label}{_one_line(sentence.text)} [{marker}]")
            citations.append(
                Citation(
                    marker=marker,
                    doc_id=doc.doc_id,
                    title=doc.title,
                    date=doc.date,
                    start=sentence.start,
                    end=sentence.end,
                    quote=sentence.text,
                    score=round(_best_score(scored, index), 4),
                )
            )
        body = " ".join(parts)
        if abstain:
            return f"{ABSTAIN_TEXT} The closest they come: {body}", citations
        return body, citations


def _best_score(scored: Scored, index: int) -> float:
    """A candidate's score for the whole question or, when higher, for its last part (the
    sentence picked for that part is scored for it)."""
    score = float(scored.scores[index])
    if scored.last_part is not None:
        score = max(score, float(scored.last_part.scores[index]))
    return score


def _when(doc: Document) -> str:
    label = describe_date(doc)
    if label is None:
        return "Elsewhere"
    return ("On " if doc.date else "In ") + label


def _one_line(text: str) -> str:
    return " ".join(text.split())
