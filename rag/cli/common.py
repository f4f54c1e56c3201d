"""What every command shares: settings, loading the pipeline with status lines, errors."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click
from pydantic import ValidationError

from rag.errors import (
    ArticleTooLargeError,
    DatasetError,
    DocumentExistsError,
    InvalidArticleError,
    InvalidQuestionError,
    InvalidSpanError,
    InvalidTextError,
    LastDocumentError,
    RagError,
    UnknownDocumentError,
    lookup,
)
from rag.progress import StderrReporter
from rag.settings import Settings, describe_settings_error

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

EXIT_ERROR = 1
EXIT_USAGE = 2  # bad input: fix the command, not the installation
EXIT_INTERRUPTED = 130
# Domain errors that are the caller's bad input; every other RagError exits EXIT_ERROR
# (a missing seeds folder, an unreadable article, a corrupted index, a model that won't load).
EXIT_CODES: dict[type[BaseException], int] = {
    InvalidTextError: EXIT_USAGE,
    InvalidQuestionError: EXIT_USAGE,
    UnknownDocumentError: EXIT_USAGE,
    InvalidSpanError: EXIT_USAGE,
    DatasetError: EXIT_USAGE,
    InvalidArticleError: EXIT_USAGE,
    ArticleTooLargeError: EXIT_USAGE,
    DocumentExistsError: EXIT_USAGE,
    LastDocumentError: EXIT_USAGE,
}


def exit_code(exc: RagError) -> int:
    return lookup(EXIT_CODES, exc, EXIT_ERROR)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:  # a bad RAG_* variable
        message = f"invalid RAG_* setting: {describe_settings_error(exc)}"
        raise click.ClickException(message) from exc


def debug_enabled() -> bool:
    """RAG_DEBUG, read through the settings (False when the settings themselves are bad)."""
    try:
        return Settings().debug
    except Exception:
        return False


def load_pipeline(settings: Settings, rebuild: bool = False) -> Pipeline:
    """The pipeline, with a status line on stderr for each slow step of a first run."""
    from rag.pipeline import Pipeline

    return Pipeline.load(settings, reporter=StderrReporter(), rebuild=rebuild)


def validated_question(text: str, settings: Settings) -> str:
    """Checked before the model loads, so bad input fails at once."""
    from rag.pipeline import validate_question

    return validate_question(text, settings)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)
