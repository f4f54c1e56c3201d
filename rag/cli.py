"""`rag` command line: ask, search, index (serve and eval live in their own modules)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from rag.corpus import describe_date
from rag.errors import RagError
from rag.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
EXIT_ERROR = 1


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: a bad RAG_* variable
        raise click.ClickException(f"invalid RAG_* setting: {exc}") from exc


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """tqdm bars on stderr, one per stage, so stdout stays clean for --json."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(label: str, done: int, total: int) -> None:
        if label not in bars:
            for bar in bars.values():
                bar.close()
            bars[label] = tqdm(total=total, desc=f"embedding {label}", unit="text", file=sys.stderr)
        bars[label].n = done
        bars[label].refresh()

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


def _load(settings: Settings, rebuild: bool = False) -> Any:
    from rag.pipeline import Pipeline

    with _progress() as progress:
        return Pipeline.load(settings, progress=progress, rebuild=rebuild)


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Turns domain errors into one readable line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagError as exc:
            _fail(str(exc), EXIT_USAGE if exc.http_status in (404, 422) else EXIT_ERROR)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("RAG_DEBUG"):
                raise
            _fail(f"unexpected {type(exc).__name__}: {exc} (set RAG_DEBUG=1 for a traceback)")


@click.group(cls=_Group)
@click.version_option(package_name="nato-rag")
def cli() -> None:
    """Cited answers from news articles about NATO's arrangements for aid to Ukraine."""


def _question(text: str, settings: Settings) -> str:
    """Checked before the model loads, so bad input fails at once."""
    from rag.pipeline import validate_question

    return validate_question(text, settings)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@click.option("--top-k", type=click.IntRange(1, 50), default=None, help="Passages to retrieve.")
def ask(question: str, as_json: bool, top_k: int | None) -> None:
    """Answer QUESTION from the articles, with numbered citations."""
    settings = _settings()
    question = _question(question, settings)
    pipeline = _load(settings)
    answer = pipeline.ask(question, top_k)
    if as_json:
        click.echo(answer.model_dump_json(indent=2))
        return
    click.echo()
    click.echo(textwrap.fill(answer.answer, width=88))
    if answer.citations:
        click.echo()
        click.secho("Sources", bold=True)
        for c in answer.citations:
            doc = pipeline.index.documents[c.doc_id]
            where = ", ".join(x for x in (doc.outlet, describe_date(doc)) if x)
            click.echo(f" [{c.marker}] {c.title}" + (f" — {where}" if where else ""))
            click.secho(f"     {c.doc_id} chars {c.start}-{c.end}", dim=True)
            quote = textwrap.fill(
                f"“{c.quote}”", width=84, initial_indent="     ", subsequent_indent="     "
            )
            click.echo(quote)
    t = answer.timings_ms
    click.secho(
        f"\n({t.total:.1f} ms: retrieve {t.retrieve:.1f}, answer {t.answer:.1f})",
        dim=True,
        err=True,
    )


@cli.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print passages as JSON.")
@click.option("--top-k", type=click.IntRange(1, 50), default=None, help="Passages to show.")
def search(query: str, as_json: bool, top_k: int | None) -> None:
    """Show the passages ranked for QUERY (no answer)."""
    settings = _settings()
    query = _question(query, settings)
    pipeline = _load(settings)
    passages = pipeline.search(query, top_k)
    if as_json:
        click.echo(json.dumps([p.model_dump() for p in passages], indent=2, ensure_ascii=False))
        return
    for rank, p in enumerate(passages, start=1):
        title = pipeline.index.documents[p.doc_id].title
        click.secho(
            f"{rank}. {title}  ({p.doc_id} {p.start}-{p.end}, score {p.score:.4f})", bold=True
        )
        click.echo(
            textwrap.fill(
                p.text.replace("\n", " "), width=88, initial_indent="   ", subsequent_indent="   "
            )
        )
        click.echo()


@cli.command()
def index() -> None:
    """Build (or rebuild) the index from the seeds folder."""
    settings = _settings()
    pipeline = _load(settings, rebuild=True)
    m = pipeline.index.manifest
    click.echo(
        f"Indexed {m['index']['documents']} documents: {m['index']['chunks']} chunks, "
        f"{m['index']['sentences']} sentences with {m['embedding']['model_id']} "
        f"in {m['build_seconds']:.1f} s -> {pipeline.index.path}"
    )


def _register_optional_commands() -> None:
    """serve/eval import heavier modules; they are only loaded if present."""
    for module, name in (("rag.serve_cli", "serve"), ("rag.eval_cli", "eval")):
        try:
            mod = __import__(module, fromlist=[name])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        cli.add_command(getattr(mod, name))


_register_optional_commands()


def main() -> None:
    cli(prog_name="rag")


if __name__ == "__main__":
    main()
