"""`rag train`: fit the answer model on the labelled question sets and write it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rag.cli.common import fail, load_settings
from rag.settings import PROJECT_ROOT

if TYPE_CHECKING:  # the training code loads scikit-learn: only when a command runs
    from rag.answer.train import Example, SeedFigures, Trainer
    from rag.settings import Settings

EVAL_DIR = PROJECT_ROOT / "eval"
# The fold seeds docs/eval.md's spreads are over (`rag train --fold-seeds`): how much the fold
# assignment alone moves a figure, the bar a change to the answer model must clear.
FOLD_SEEDS = (42, 7, 123, 1, 2024)


def default_corpora() -> list[Any]:
    """The labelled data in the repository: the seeds with three question sets by different
    writers, and eight other articles with their own questions."""
    from rag.answer.train import Corpus

    return [
        Corpus(
            "seeds",
            PROJECT_ROOT / "seeds",
            (EVAL_DIR / "dev.jsonl", EVAL_DIR / "train.jsonl", EVAL_DIR / "own.jsonl"),
        ),
        Corpus(
            "corpus-dev",
            EVAL_DIR / "corpus-dev" / "articles",
            (EVAL_DIR / "corpus-dev" / "questions.jsonl",),
        ),
    ]


def _prepared(work_dir: Path) -> tuple[Trainer, list[Example], list[Any], Settings]:
    """Every default corpus indexed afresh under `work_dir`, its questions run through
    retrieval and the candidate features: (trainer, examples, corpora, settings)."""
    from rag.analyze import Annotator
    from rag.answer import AnswerModel, LearnedAnswerer
    from rag.answer.train import Trainer, build_examples, cross_corpus_negatives
    from rag.pipeline import Pipeline
    from rag.progress import StderrReporter

    annotator = Annotator()

    def unfit_stage(index: Any, retriever: Any) -> LearnedAnswerer:
        # features only: the heads are what is being fit
        return LearnedAnswerer.from_index(
            index,
            retriever.lexicon,
            annotator,
            AnswerModel.untrained(),
            encode=retriever.embed_texts,
            lazy_near=False,  # the heads are refit: every question's words count
        )

    base = load_settings()
    reporter = StderrReporter()
    corpora = default_corpora()
    examples: list[Example] = []
    stages: dict[str, LearnedAnswerer] = {}
    pipelines: dict[str, Pipeline] = {}
    for corpus in corpora:
        settings = base.model_copy(
            update={"seeds_dir": corpus.seeds_dir, "index_dir": work_dir / corpus.name}
        )
        pipeline = Pipeline.load(
            settings, reporter=reporter, answerer=unfit_stage, annotator=annotator
        )
        stage = pipeline.answerer
        assert isinstance(stage, LearnedAnswerer)  # unfit_stage made it
        stages[corpus.name] = stage
        pipelines[corpus.name] = pipeline
        with reporter.step(f"features for {corpus.name}") as step:
            found = build_examples(corpus, pipeline)
            step.detail = f"{len(found)} questions"
        examples += found
    for corpus in corpora:
        with reporter.step(f"other corpora's questions asked of {corpus.name}") as step:
            others = [c for c in corpora if c.name != corpus.name]
            found = cross_corpus_negatives(corpus, pipelines[corpus.name], others)
            step.detail = f"{len(found)} unanswerable here"
        examples += found
    return Trainer(stages), examples, corpora, base


def train_model(work_dir: Path, cross_validation: bool = True) -> tuple[Any, dict[str, Any]]:
    """Fit on every default corpus (each indexed afresh under `work_dir`); returns the model
    with its training record and the cross-validation report."""
    from dataclasses import replace

    from rag.answer.train import cross_validate, data_hashes, is_synthetic
    from rag.progress import StderrReporter

    reporter = StderrReporter()
    trainer, examples, corpora, base = _prepared(work_dir)
    with reporter.step("fitting the answer model"):
        model = trainer.fit(examples)
    cv: dict[str, Any] = {}
    if cross_validation:
        with reporter.step("cross-validating"):
            cv = cross_validate(trainer, examples)
    record = {
        "command": "rag train",
        # what the features depend on besides the data: serving should match these
        "settings": {
            "answer_k": base.answer_k,
            "chunk_sentences": base.chunk_sentences,
            "chunk_overlap": base.chunk_overlap,
            "embed_backend": base.embed_backend,
            "model_id": base.model_id,
        },
        "data": data_hashes(corpora),
        "questions": sum(not is_synthetic(e) for e in examples),
        "questions_asked_across_corpora": sum(is_synthetic(e) for e in examples),
        "cross_validation": cv,
    }
    return replace(model, training=record), cv


def seed_spread(work_dir: Path, seeds: Sequence[int]) -> list[SeedFigures]:
    """The cross-validated figures at each fold seed (`rag.answer.train.fold_seed_spread`)."""
    from rag.answer.train import fold_seed_spread
    from rag.progress import StderrReporter

    trainer, examples, _, _ = _prepared(work_dir)
    with StderrReporter().step(f"cross-validating at {len(seeds)} fold seeds"):
        return fold_seed_spread(trainer, examples, seeds)


def spread_table(rows: Sequence[SeedFigures]) -> str:
    """Markdown: each evaluation's figures per fold seed, and their mean."""
    from rag.answer.train import SPREAD_FIGURES as names

    lines: list[str] = []
    for evaluation in dict.fromkeys(r.evaluation for r in rows):
        group = [r for r in rows if r.evaluation == evaluation]
        lines += [f"## {evaluation}", "", "| fold seed | " + " | ".join(names) + " |"]
        lines.append("| --- " * (len(names) + 1) + "|")
        for r in group:
            cells = " | ".join(_figure(getattr(r, n), n) for n in names)
            lines.append(f"| {r.seed} | {cells} |")
        means = []
        for n in names:
            values = [getattr(r, n) for r in group if getattr(r, n) is not None]
            means.append(_figure(sum(values) / len(values) if values else None, n))
        lines += ["| mean | " + " | ".join(means) + " |", ""]
    return "\n".join(lines)


def _figure(value: float | None, name: str) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if name == "median_answer_chars" else f"{value:.3f}"


def _seeds(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        seeds = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: give whole numbers separated by commas") from None
    if any(seed < 0 for seed in seeds):
        raise click.BadParameter(f"{value!r}: fold seeds are 0 or more")
    if len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"{value!r}: a seed is given twice")
    return seeds


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="where to write the model (default: the packaged rag/answer/answer-model.json)",
)
@click.option("--check", is_flag=True, help="fit, and fail unless it matches the file at --out")
@click.option(
    "--fold-seeds",
    "fold_seeds",
    callback=_seeds,
    is_flag=False,
    flag_value=",".join(str(seed) for seed in FOLD_SEEDS),
    default=None,
    metavar="[SEEDS]",
    help="cross-validate at each of these fold seeds (default "
    f"{','.join(str(seed) for seed in FOLD_SEEDS)}) and print the figures; writes nothing",
)
def train(out: Path | None, check: bool, fold_seeds: tuple[int, ...] | None) -> None:
    """Fit the answer model on eval/ (labels from evidence spans), report cross-validated
    figures, write the model as JSON (and a Markdown report beside it)."""
    from rag.answer.model import DEFAULT_MODEL_PATH, AnswerModel, same_fit
    from rag.files import atomic_write

    if fold_seeds is not None:
        if check or out:
            fail("--fold-seeds only measures: give it without --check and --out", 2)
        with tempfile.TemporaryDirectory(prefix="rag-train-") as tmp:
            click.echo(spread_table(seed_spread(Path(tmp), fold_seeds)))
        return

    target = out or DEFAULT_MODEL_PATH
    with tempfile.TemporaryDirectory(prefix="rag-train-") as tmp:
        model, cv = train_model(Path(tmp))
    text = model.to_json()
    if check:
        if not same_fit(AnswerModel.load(target), model):
            fail(f"{target} differs from what `rag train` fits now", 1)
        click.echo(f"{target} is reproduced by this fit")
        return
    atomic_write(target, text.encode("utf-8"))
    atomic_write(target.with_suffix(".md"), markdown_report(cv).encode("utf-8"))
    click.echo(f"wrote {target} and {target.with_suffix('.md').name}")
    click.echo(json.dumps(cv[next(iter(cv))]["by_set"], indent=1))


def markdown_report(cv: dict[str, Any]) -> str:
    """The cross-validated figures as tables: one per evaluation, by set and by type."""
    from rag.answer.train import REPORTED

    lines = [
        "# Answer model: cross-validated figures",
        "",
        "Written by `rag train` (`make train`) beside `answer-model.json`. No figure here is on",
        "a question the scoring model was fit on.",
        "",
        "A row `A/questions of B` holds corpus B's answerable questions asked of corpus A,",
        "kept only when no key-fact group of theirs occurs in A's articles and no question",
        "written for A repeats them: unanswerable there, they add on-topic negatives for the",
        "answerable head. They count in no `all` row and no `type:` row.",
        "",
    ]
    header = "| | n | " + " | ".join(REPORTED) + " |"
    rule = "| --- " * (len(REPORTED) + 2) + "|"
    for name, block in cv.items():
        lines += [f"## {name}", "", header, rule]
        rows = [("all", block["all"])]
        rows += [(k, v) for k, v in block["by_set"].items()]
        rows += [(f"type: {k}", v) for k, v in block["by_type"].items()]
        for label, m in rows:
            lines.append(f"| {label} | {m['n']} | " + " | ".join(_cells(m, REPORTED)) + " |")
        lines.append("")
    lines += _by_set_and_type(cv)
    return "\n".join(lines)


def _cells(m: dict[str, Any], names: Sequence[str]) -> list[str]:
    return ["–" if m.get(k) is None else f"{m[k]:g}" for k in names]


def _by_set_and_type(cv: dict[str, Any]) -> list[str]:
    """The first evaluation (k-fold) per question set and type, the baseline's accuracy
    beside it: each set has its own writer, and a type can fare differently in each."""
    from rag.answer.train import REPORTED

    blocks = list(cv.items())
    if not blocks or "by_set_type" not in blocks[0][1]:
        return []
    name, block = blocks[0]
    baseline = next((b for k, b in blocks if k.startswith("baseline")), None)
    lines = [
        f"## {name}, each question set by type",
        "",
        "| | n | " + " | ".join(REPORTED) + " | baseline answer_accuracy |",
        "| --- " * (len(REPORTED) + 3) + "|",
    ]
    for set_name, types in block["by_set_type"].items():
        for type_name, m in types.items():
            base = (baseline or {}).get("by_set_type", {}).get(set_name, {}).get(type_name, {})
            cells = _cells(m, REPORTED) + _cells(base, ("answer_accuracy",))
            lines.append(f"| {set_name} · {type_name} | {m['n']} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines
