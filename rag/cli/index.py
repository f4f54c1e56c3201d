"""`rag index`."""

from __future__ import annotations

import click

from rag.cli.common import load_pipeline, load_settings


@click.command()
def index() -> None:
    """Rebuild the index from scratch from the seeds and the added articles."""
    settings = load_settings()
    pipeline = load_pipeline(settings, rebuild=True)
    m = pipeline.index.manifest
    click.echo(
        f"Indexed {m['index']['documents']} documents: {m['index']['chunks']} chunks, "
        f"{m['index']['sentences']} sentences with {m['embedding']['model_id']} "
        f"in {m['build_seconds']:.1f} s -> {pipeline.index.path or pipeline.index.version}"
    )
