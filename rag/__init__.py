"""Cited, extractive question answering over news articles about NATO's Ukraine-aid arrangements."""

__version__ = "0.1.0"
