"""`rag ask` and `rag search`."""

from __future__ import annotations

import json
import textwrap

import click

from rag.cli.common import load_pipeline, load_settings, validated_question
from rag.ingest import describe_date


@click.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@click.option("--top-k", type=click.IntRange(1, 50), default=None, help="Passages to retrieve.")
def ask(question: str, as_json: bool, top_k: int | None) -> None:
    """Answer QUESTION from the articles, with numbered citations."""
    settings = load_settings()
    question = validated_question(question, settings)
    pipeline = load_pipeline(settings)
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
        f"\n({t.total:.1f} ms: retrieve {t.retrieve:.1f}, analyze {t.analyze:.1f}, "
        f"answer {t.answer:.1f})",
        dim=True,
        err=True,
    )


@click.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print passages as JSON.")
@click.option("--top-k", type=click.IntRange(1, 50), default=None, help="Passages to show.")
def search(query: str, as_json: bool, top_k: int | None) -> None:
    """Show the passages ranked for QUERY (no answer)."""
    settings = load_settings()
    query = validated_question(query, settings)
    pipeline = load_pipeline(settings)
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
