"""The question-answering pipeline: load once, then retrieve and answer per question."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.analyze import Annotator
from rag.answer import Answerer, AnswerModel, LearnedAnswerer
from rag.chat import ChatReply, Resolution, Turn, resolve
from rag.embed import Embedder, load_embedder
from rag.errors import InvalidQuestionError
from rag.progress import Reporter
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.store import LoadedIndex, Store, open_store
from rag.text import Lexicon
from rag.text.valid import text_problem
from rag.types import Answer, Passage, Timings


def validate_question(question: object, settings: Settings) -> str:
    """The question, stripped; InvalidQuestionError if it is empty, over the length limit
    (counted as sent, so the HTTP schema's maxLength says the same) or not valid text."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidQuestionError("The question is empty: type a question about the articles.")
    if len(question) > settings.max_question_chars:
        raise InvalidQuestionError(
            f"The question is {len(question)} characters long; "
            f"the limit is {settings.max_question_chars}."
        )
    problem = text_problem(question)
    if problem is not None:
        raise InvalidQuestionError(f"The question is not valid text: {problem}.")
    return question.strip()


@dataclass
class Pipeline:
    settings: Settings
    embedder: Embedder
    index: LoadedIndex
    lexicon: Lexicon
    retriever: HybridRetriever
    analyzer: Annotator  # question analysis, once per question
    answerer: Answerer
    store: Store  # where `index` came from; a reload asks it for the next version
    # how `answerer` was made, so a reloaded pipeline builds the same kind of answer stage
    answerer_factory: Callable[[LoadedIndex, HybridRetriever], Answerer] | None = None

    @classmethod
    def load(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        reporter: Reporter | None = None,
        rebuild: bool = False,
        answerer: Callable[[LoadedIndex, HybridRetriever], Answerer] | None = None,
        annotator: Annotator | None = None,
        store: Store | None = None,
    ) -> Pipeline:
        """Load the model and the index (building it if missing or stale), then the corpus
        lexicon and BM25. `reporter` hears about slow steps (ONNX export, indexing).
        `annotator` shares one loaded spaCy pipeline between several pipelines.

        `store` is where the index lives (by default the one RAG_STORE names).

        `answerer` swaps the answer stage (e.g. an LLM-backed one): it receives the loaded
        index and the retriever (whose `lexicon` it may use) and returns an `Answerer`; by
        default the learned one with the model at `settings.answer_model_path`.
        """
        embedder = embedder or load_embedder(settings, reporter)
        annotator = (annotator or Annotator()).load()
        store = store or open_store(settings)
        if rebuild:
            index = store.build(embedder, reporter, annotator, reuse=False)
        else:
            index = store.ensure(embedder, reporter, annotator)
        return cls.from_index(settings, embedder, annotator, index, answerer, store)

    @classmethod
    def from_index(
        cls,
        settings: Settings,
        embedder: Embedder,
        annotator: Annotator,
        index: LoadedIndex,
        answerer: Callable[[LoadedIndex, HybridRetriever], Answerer] | None = None,
        store: Store | None = None,
    ) -> Pipeline:
        """A pipeline over an index already loaded (or just built), reusing a loaded model
        and annotator: what a server swaps in after a write, in a fraction of a second."""
        store = store or open_store(settings)
        lexicon = Lexicon.from_texts(s.text for s in index.sentences)
        retriever = HybridRetriever.from_index(index, embedder, settings, lexicon)
        if answerer:
            stage = answerer(index, retriever)
        else:
            model = AnswerModel.load(settings.answer_model_path)
            stage = LearnedAnswerer.from_index(
                index, lexicon, annotator, model, encode=retriever.embed_texts
            )
        return cls(settings, embedder, index, lexicon, retriever, annotator, stage, store, answerer)

    def refreshed(self) -> Pipeline:
        """This pipeline, or one over the store's live version when another process has
        written since it was loaded (reusing the loaded model and annotator)."""
        live = self.store.live_version()
        if live is None or live == self.index.version:
            return self
        return self.with_index(self.store.load(self.embedder, self.analyzer))

    def with_index(self, index: LoadedIndex) -> Pipeline:
        """A pipeline like this one (model, annotator, answer stage, store) over `index`."""
        return Pipeline.from_index(
            self.settings, self.embedder, self.analyzer, index, self.answerer_factory, self.store
        )

    def search(self, query: str, top_k: int | None = None) -> list[Passage]:
        query = validate_question(query, self.settings)
        return self.retriever.retrieve(query, top_k).passages

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        question = validate_question(question, self.settings)
        t0 = time.perf_counter()
        shown = top_k or self.settings.top_k
        # The answer stage reads a few more passages than are shown: a fact ranked sixth is
        # still worth citing.
        # The question is parsed while retrieval embeds and searches it (both read the
        # spelling-repaired question).
        repaired = self.retriever.repair(question)
        analysis = self.analyzer.question_soon(repaired)
        retrieval = self.retriever.retrieve(
            question, max(shown, self.settings.answer_k), repaired=repaired
        )
        t1 = time.perf_counter()
        retrieval.analysis = analysis.result()
        ta = time.perf_counter()
        retrieved = retrieval.passages
        # The answer stage always reads answer_k passages (what it was trained on), however
        # many are shown.
        retrieval.passages = retrieved[: self.settings.answer_k]
        selection = self.answerer.answer(question, retrieval)
        retrieval.passages = retrieved[:shown]
        t2 = time.perf_counter()
        return Answer(
            question=question,
            answer=selection.text,
            abstained=selection.abstained,
            citations=selection.citations,
            passages=retrieval.passages,
            timings_ms=Timings(
                retrieve=round((t1 - t0) * 1000, 3),
                analyze=round((ta - t1) * 1000, 3),
                answer=round((t2 - ta) * 1000, 3),
                total=round((t2 - t0) * 1000, 3),
            ),
        )

    def resolve(self, history: Sequence[Turn], question: str) -> Resolution:
        """`question` as it reads on its own, given the earlier turns (oldest first)."""
        return resolve(history, validate_question(question, self.settings), self.lexicon)

    def chat(self, history: Sequence[Turn], question: str, top_k: int | None = None) -> ChatReply:
        """Answer the latest question of a conversation: a follow-up ("how many staff will
        it have?") is resolved against the earlier user turns first."""
        resolution = self.resolve(history, question)
        resolved = resolution.question
        if len(resolved) > self.settings.max_question_chars:
            resolved = resolution.original  # the added context must not make it too long
        return ChatReply(self.ask(resolved, top_k), resolution, resolved)
