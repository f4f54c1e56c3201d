"""Answering: the `Answerer` role and the extractive answer stage."""

from rag.answer.base import Answerer, Selection
from rag.answer.extractive import ExtractiveAnswerer

__all__ = ["Answerer", "ExtractiveAnswerer", "Selection"]
