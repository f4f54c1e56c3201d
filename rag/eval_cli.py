"""`rag eval`: score the system (library or a running service) on a question set, with
baselines side by side (`--compare`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rag.evaluate import System

# rag/cli.py imports this module on every `rag` run: the evaluation code (httpx, numpy,
# LangChain) is imported only when `rag eval` actually runs.


class _Progress:
    """One tqdm bar per system on stderr, so stdout stays clean for --json."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if name not in self.bars:
            self.close()
            # disable=None: no bar when stderr is not a terminal (logs, CI).
            self.bars[name] = tqdm(
                total=total, desc=f"eval {name}", unit="q", file=sys.stderr, disable=None
            )
        bar = self.bars[name]
        bar.n = done
        bar.refresh()
        if done == total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _systems(
    against: str | None, compare: bool, top_k: int | None
) -> tuple[list[System], Any, str | None]:
    """The systems in table order (a service under test first), the pipeline if loaded, and
    the model id."""
    from rag.cli import _load, _settings
    from rag.evaluate import HttpSystem, PipelineSystem

    primary: list[System] = []
    if against:
        primary.append(HttpSystem(against, top_k=top_k))
    pipeline = None
    model: str | None = None
    if compare or not against:
        pipeline = _load(_settings())
        model = str(pipeline.index.manifest["embedding"]["model_id"])
    if pipeline is None:
        return primary, None, None
    from rag.baselines import baseline_systems

    full = PipelineSystem(pipeline, top_k=top_k)
    if not compare:
        return [full], pipeline, model
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
    from rag.evaluate import (
        HttpSystem,
        RunReport,
        SystemReport,
        check_evidence,
        evaluate,
        load_dataset,
    )
    from rag.report import side_by_side, terminal_details, write_outputs

    items = load_dataset(dataset)  # before loading the model: a bad file fails fast
    if against and not against.startswith(("http://", "https://")):
        raise click.BadParameter("expected an http:// or https:// URL", param_hint="--against")
    systems, pipeline, model = _systems(against, compare, top_k)
    if pipeline is not None:
        for warning in check_evidence(items, pipeline.index.documents):
            click.secho(f"warning: {warning}", fg="yellow", err=True)
    progress = _Progress()
    reports: list[SystemReport] = []
    try:
        for system in systems:
            reports.append(evaluate(system, items, progress))
    finally:
        progress.close()
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


eval = eval_command  # rag/cli.py registers the command object named `eval`
