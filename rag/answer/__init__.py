"""Answering: the `Answerer` role and the learned answer stage (see `learned.py`)."""

from rag.answer.base import Answerer, Selection
from rag.answer.learned import ABSTAIN_TEXT, LearnedAnswerer
from rag.answer.model import AnswerModel

__all__ = ["ABSTAIN_TEXT", "AnswerModel", "Answerer", "LearnedAnswerer", "Selection"]
