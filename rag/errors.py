"""Domain errors. Raised inside `rag`, translated at the edges (CLI exit codes, HTTP statuses)."""

from __future__ import annotations


class RagError(Exception):
    """Base class: the message is written for the person running the command."""

    http_status = 500


class InvalidQuestionError(RagError):
    """Empty, whitespace-only or over-long question."""

    http_status = 422


class SeedsNotFoundError(RagError):
    http_status = 503


class SeedReadError(RagError):
    http_status = 503


class IndexCorruptedError(RagError):
    http_status = 503


class IndexMismatchError(RagError):
    """The stored index was built from other seeds, settings or model."""

    http_status = 503


class UnknownDocumentError(RagError):
    http_status = 404


class InvalidSpanError(RagError):
    http_status = 422


class ModelLoadError(RagError):
    http_status = 503
