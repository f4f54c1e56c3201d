"""Domain errors, all in one module. Raised inside `rag`; each edge decides what they mean
there (exit codes in `rag/cli`, HTTP statuses in `api/errors.py`). The message is written for
the person running the command."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar


class RagError(Exception):
    """Base class of every error the library raises on purpose."""


class InvalidTextError(RagError):
    """Text that is not valid Unicode: a lone UTF-16 surrogate, or a byte that is not UTF-8
    (rag/text/valid.py)."""


class InvalidQuestionError(InvalidTextError):
    """Empty, whitespace-only, over-long or invalid-text question."""


class SeedsNotFoundError(RagError):
    """The seeds folder does not exist or holds no articles."""


class SeedReadError(RagError):
    """An article cannot be read or decoded, or no article has any prose."""


class IndexCorruptedError(RagError):
    """The stored index files are damaged or inconsistent."""


class IndexMismatchError(RagError):
    """The stored index was built from other seeds, settings or model (or is missing)."""


class StoreUnavailableError(RagError):
    """The index's database cannot be reached, refused the login, or timed out."""


class UnknownDocumentError(RagError):
    """No article with that id."""


class InvalidSpanError(RagError):
    """A character span that does not fit the article."""


class ModelLoadError(RagError):
    """The embedding model cannot be loaded or exported."""


class DatasetError(RagError):
    """The question set is missing, empty or malformed (the message names the line)."""


class MissingDependencyError(RagError):
    """An optional package (an extra such as `nato-rag[eval]`) is not installed."""


class InvalidArticleError(RagError):
    """An article that cannot be stored: empty, not UTF-8 text, binary, or not a usable page."""


class ArticleTooLargeError(RagError):
    """An article over RAG_MAX_ARTICLE_BYTES."""


class DocumentExistsError(RagError):
    """Adding an article under an id that is already in the corpus."""


class LastDocumentError(RagError):
    """Removing every article: the index needs at least one, so the last one stays."""


class WritesDisabledError(RagError):
    """A write over HTTP with no API key configured and unauthenticated writes not allowed."""


T = TypeVar("T")


def lookup(table: Mapping[type[BaseException], T], exc: BaseException, default: T) -> T:
    """The entry for the most specific class of `exc` in `table` (its own class first, then
    its bases), or `default`: how the edges map error classes to exit codes or statuses."""
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return default
