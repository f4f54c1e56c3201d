"""`rag eval`: score the system (library or a running service) on a question set, with
baselines side by side (`--compare`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rag.cli.common import load_pipeline, load_settings
from rag.optional import require
from rag.progress import StderrReporter

if TYPE_CHECKING:
    from rag.eval import System

# The `rag` group imports this module on every run: the evaluation code (httpx, LangChain,
# matplotlib) is imported only when `rag eval` actually runs.


def _systems(
    against: str | None, compare: bool, top_k: int | None
) -> tuple[list[System], Any, str | None]:
    """The systems in table order (a service under test first), the pipeline if loaded, and
    the model id."""
    from rag.eval import HttpSystem, PipelineSystem

    settings = load_settings()
    primary: list[System] = []
    if against:
        primary.append(HttpSystem(against, top_k=top_k, api_key=settings.api_key))
    pipeline = None
    model: str | None = None
    if compare or not against:
        pipeline = load_pipeline(settings)
        model = str(pipeline.index.manifest["embedding"]["model_id"])
    if pipeline is None:
        return primary, None, None
    full = PipelineSystem(pipeline, top_k=top_k)
    if not compare:
        return [full], pipeline, model
    for module in ("langchain_core", "langchain_community", "langchain_text_splitters"):
        require(module, "eval", "The baselines of `rag eval --compare`")
    from rag.eval.baselines import baseline_systems

    baselines = baseline_systems(pipeline, top_k)
    # Spec order: (a) bm25 (b) dense (c) hybrid-top (d) full (e) langchain; the service, when
    # asked for, is the primary system and comes first.
    ordered: list[System] = [
        baselines["bm25"],
        baselines["dense"],
        baselines["hybrid-top"],
        full,
        baselines["langchain"],
    ]
    return primary + ordered, pipeline, model


@click.command("eval")
@click.option(
    "--dataset",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Question set (JSONL, format in eval/README.md).",
)
@click.option("--against", metavar="URL", help="Evaluate a running service (POST /ask) instead.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write results.json, report.md and chart.png to this folder.",
)
@click.option("--compare", is_flag=True, help="Add the baselines, side by side.")
@click.option(
    "--top-k",
    type=click.IntRange(1, 50),
    default=None,
    help="Passages the system answers from (default: its setting). Ranking metrics use ≥10.",
)
@click.option("--verbose", "-v", is_flag=True, help="Show every question, not only misses.")
def eval_command(
    dataset: Path,
    against: str | None,
    as_json: bool,
    out: Path | None,
    compare: bool,
    top_k: int | None,
    verbose: bool,
) -> None:
    """Score answers, citations, abstention and retrieval on a question set."""
    from rag.eval import HttpSystem, RunReport, SystemReport, evaluate, load_dataset
    from rag.eval.dataset import check_evidence
    from rag.eval.report import side_by_side, terminal_details, write_outputs

    items = load_dataset(dataset)  # before loading the model: a bad file fails fast
    if against and not against.startswith(("http://", "https://")):
        raise click.BadParameter("expected an http:// or https:// URL", param_hint="--against")
    systems, pipeline, model = _systems(against, compare, top_k)
    if pipeline is not None:
        for warning in check_evidence(items, pipeline.index.documents):
            click.secho(f"warning: {warning}", fg="yellow", err=True)
    reporter = StderrReporter()
    reports: list[SystemReport] = []
    try:
        for system in systems:
            with reporter.step(f"evaluating {system.name} on {len(items)} questions"):
                reports.append(evaluate(system, items, reporter))
    finally:
        for system in systems:
            if isinstance(system, HttpSystem):
                for note in dict.fromkeys(system.notes):
                    click.secho(f"note: {note}", fg="yellow", err=True)
                system.close()
    run = RunReport(
        dataset=str(dataset),
        target=against or "library",
        model=model,
        top_k=top_k,
        primary_system=systems[0].name if against else "full",
        systems=reports,
    )
    if as_json:
        click.echo(json.dumps(run.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(side_by_side(run))
        click.echo()
        click.echo(terminal_details(run.primary, verbose))
    if out is not None:
        written = write_outputs(run, out)
        click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
    failed = run.primary.n_failed
    if failed:
        click.secho(
            f"warning: {failed} of {len(items)} requests failed (see the per-question report)",
            fg="yellow",
            err=True,
        )
        if failed == len(items):
            click.secho("error: every request failed", fg="red", err=True)
            sys.exit(1)
