"""Question and sentence analysis (spaCy): sentences once at index time, questions per query."""

from rag.analyze.spacy_annotator import (
    ANSWER_TYPES,
    SPACY_MODEL,
    Annotator,
    QuestionAnalysis,
    SentenceAnnotation,
)

__all__ = ["ANSWER_TYPES", "SPACY_MODEL", "Annotator", "QuestionAnalysis", "SentenceAnnotation"]
