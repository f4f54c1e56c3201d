"""`rag add`, `rag remove`, `rag list`: manage the articles (rag/store/library.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rag.cli.common import EXIT_USAGE, fail, load_settings
from rag.ingest.corpus import describe_date
from rag.progress import StderrReporter
from rag.settings import Settings
from rag.types import Document

if TYPE_CHECKING:
    from rag.store.library import Library


def _library(settings: Settings) -> Library:
    """The library with a loaded model and annotator (embedding the new articles)."""
    from rag.analyze import Annotator
    from rag.embed import load_embedder
    from rag.store.library import Library as LibraryClass

    reporter = StderrReporter()
    embedder = load_embedder(settings, reporter)
    return LibraryClass(settings, embedder, Annotator().load(), reporter)


def _line(doc: Document) -> str:
    when = describe_date(doc)
    where = ", ".join(x for x in (doc.outlet, when) if x)
    return f"{doc.doc_id}  {doc.title}" + (f" — {where}" if where else "")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--id", "doc_id", help="Document id (one PATH only); default: the file name.")
@click.option("--title", help="Title, instead of the headline found in the article.")
@click.option("--date", help="Publication date, YYYY-MM-DD, instead of the dateline's.")
@click.option("--outlet", help="Outlet, instead of the masthead found in the article.")
@click.option("--replace", is_flag=True, help="Update articles whose id already exists.")
def add(
    paths: tuple[Path, ...],
    doc_id: str | None,
    title: str | None,
    date: str | None,
    outlet: str | None,
    replace: bool,
) -> None:
    """Add articles (.txt, .md, .html) to the corpus and index them at once."""
    from rag.store.library import ACCEPTED_SUFFIXES, NewArticle

    if doc_id and len(paths) > 1:
        fail("--id names one article: give a single PATH.", EXIT_USAGE)
    articles = []
    for path in paths:
        if not path.is_file():
            fail(f"No such file: {path}", EXIT_USAGE)
        if path.suffix.lower() not in ACCEPTED_SUFFIXES:
            fail(f"{path}: expected one of {', '.join(ACCEPTED_SUFFIXES)}.", EXIT_USAGE)
        try:
            data = path.read_bytes()
        except OSError as exc:
            fail(f"Cannot read {path}: {exc.strerror or exc}.", EXIT_USAGE)
        articles.append(
            NewArticle(data, None, doc_id, path.name, title=title, date=date, outlet=outlet)
        )
    settings = load_settings()
    result = _library(settings).add(articles, replace=replace)
    for doc in result.documents:
        click.echo(f"added {_line(doc)}")
    m = result.index.manifest["index"]
    click.echo(
        f"index: {m['documents']} documents, {m['chunks']} passages "
        f"({m['embedded_chunks']} embedded now) -> {result.index.version}",
        err=True,
    )


@click.command()
@click.argument("doc_ids", nargs=-1, required=True)
def remove(doc_ids: tuple[str, ...]) -> None:
    """Delete articles from the corpus and the index (seed files themselves stay untouched)."""
    settings = load_settings()
    result = _library(settings).remove(list(doc_ids))
    for doc_id in result.doc_ids:
        click.echo(f"removed {doc_id}")


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of the articles.")
def list_command(as_json: bool) -> None:
    """The articles in the corpus: id, title, outlet, date."""
    from rag.store.library import list_documents

    docs = list_documents(load_settings())
    if as_json:
        rows = [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "outlet": d.outlet,
                "authors": list(d.authors),
                "date": d.date,
                "updated": d.updated,
                "source": d.source,
                "length": len(d.text),
                "sha256": d.sha256,
            }
            for d in docs
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for doc in docs:
        click.echo(_line(doc))
