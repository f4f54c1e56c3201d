"""Evaluation reports: a plain-text side-by-side table, Markdown, JSON and a bar chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rag.eval.metrics import METRIC_NAMES, Metrics, QuestionResult, RunReport, SystemReport
from rag.optional import require

CHART_METRICS = (
    "answer_accuracy",
    "citation_precision",
    "citation_recall",
    "recall_at_5",
    "mrr",
    "abstention_recall",
)


def fmt(name: str, value: float | None) -> str:
    if value is None:
        return "–"
    if name.startswith("latency"):
        return f"{value:.1f}"
    if name == "median_answer_chars":
        return f"{value:.0f}"
    return f"{value:.3f}"


def _counts(m: Metrics) -> str:
    failed = f", {m.n_failed} failed" if m.n_failed else ""
    return f"{m.n_questions} ({m.n_answerable} answerable, {m.n_unanswerable} unanswerable{failed})"


def table_rows(metrics: Sequence[Metrics]) -> list[list[str]]:
    rows = [
        ["questions", *(str(m.n_questions) for m in metrics)],
        ["answerable/unanswerable", *(f"{m.n_answerable}/{m.n_unanswerable}" for m in metrics)],
        ["failed requests", *(str(m.n_failed) for m in metrics)],
    ]
    for name in METRIC_NAMES:
        rows.append([name, *(fmt(name, getattr(m, name)) for m in metrics)])
    return rows


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned plain text: metric names left, figures right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def side_by_side(run: RunReport) -> str:
    header = ["metric", *(s.system for s in run.systems)]
    return text_table(header, table_rows(run.systems))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: bool = True) -> str:
    """A Markdown table; with `numeric`, every column but the first is right-aligned."""
    rule = "---:" if numeric else "---"
    lines = [
        "| " + " | ".join(_md_cell(h) for h in header) + " |",
        "| " + " | ".join(["---"] + [rule] * (len(header) - 1)) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def outcome(q: QuestionResult) -> str:
    if q.failed:
        return "failed"
    if q.correct:
        return "ok" if not q.miss else "ok*"
    return "abstained" if q.abstained else "wrong"


def _span(doc_id: str, start: int, end: int) -> str:
    return f"{doc_id} [{start}, {end})"


def _quote(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def question_lines(q: QuestionResult) -> list[str]:
    """A question's details for people: answer, verdict and why, cited vs gold spans."""
    verdict = "right" if q.correct else "WRONG"
    kind = "answerable" if q.answerable else "unanswerable"
    lines = [
        f"{'✓' if not q.miss else '✗'} {q.id} [{q.type}, {kind}] {q.question}",
        f"    verdict:   {verdict}" + (f" — {'; '.join(q.reasons)}" if q.reasons else ""),
        f"    answer:    {_quote(q.answer, 400) if q.answer else '(none)'}"
        + (" [abstained]" if q.abstained else ""),
    ]
    if q.reference:
        lines.append(f"    reference: {q.reference}")
    for c in q.citations:
        mark = ("on evidence" if c.on_evidence else "OFF evidence") if q.answerable else ""
        lines.append(
            f"    cited:     {_span(c.doc_id, c.start, c.end)} {mark}: “{_quote(c.quote)}”"
        )
    for g in q.gold:
        lines.append(f"    gold:      {_span(g.doc, g.start, g.end)}: “{_quote(g.quote)}”")
    if q.answerable and q.retrieved:
        where = (
            f"rank {q.first_relevant_rank}"
            if q.first_relevant_rank
            else f"none in the top {len(q.retrieved)}"
        )
        lines.append(f"    retrieval: first passage on the evidence at {where}")
    return lines


def terminal_details(report: SystemReport, verbose: bool) -> str:
    shown = [q for q in report.questions if verbose or q.miss]
    title = "all questions" if verbose else "misses"
    head = f"{report.system}: {title} ({len(shown)} of {len(report.questions)})"
    if not shown:
        return head + ": none"
    return "\n".join([head, *("\n".join(question_lines(q)) for q in shown)])


def _md_question(q: QuestionResult) -> str:
    verdict = "right" if q.correct else "**wrong**"
    lines = [
        f"#### {'✓' if not q.miss else '✗'} {q.id} ({q.type}) — {_md_cell(q.question)}",
        "",
        f"- verdict: {verdict}" + (f" — {'; '.join(q.reasons)}" if q.reasons else ""),
        f"- answer{' (abstained)' if q.abstained else ''}: "
        + (_md_cell(_quote(q.answer, 1200)) if q.answer else "(none)"),
    ]
    if q.reference:
        lines.append(f"- reference: {_md_cell(q.reference)}")
    for c in q.citations:
        mark = ("on evidence" if c.on_evidence else "**off evidence**") if q.answerable else ""
        lines.append(
            f"- cited `{_span(c.doc_id, c.start, c.end)}` {mark}".rstrip()
            + f": “{_quote(c.quote)}”"
        )
    for g in q.gold:
        lines.append(f"- gold `{_span(g.doc, g.start, g.end)}`: “{_quote(g.quote)}”")
    if q.answerable and q.retrieved:
        ranks = ", ".join(str(r.rank) for r in q.retrieved if r.relevant) or "none"
        lines.append(f"- retrieved passages on the evidence (rank of {len(q.retrieved)}): {ranks}")
    if q.latency_ms is not None:
        lines.append(f"- latency: {q.latency_ms:.1f} ms")
    return "\n".join(lines)


def markdown(run: RunReport) -> str:
    names = [s.system for s in run.systems]
    first = run.primary  # per-question details in full for the system under test
    out = [
        f"# Evaluation of `{run.dataset}`",
        "",
        f"Target: {run.target}; model: {run.model or 'n/a'}; top_k: {run.top_k or 'default'}; "
        f"{_counts(first)}.",
        "",
        "## Systems",
        "",
        *(f"- **{s.system}**: {s.description}" for s in run.systems),
        "",
        "## Side by side",
        "",
        md_table(["metric", *names], table_rows(run.systems)),
        "",
        "## By question type",
    ]
    types = sorted({t for s in run.systems for t in s.by_type})
    for t in types:
        metrics = [s.by_type.get(t) for s in run.systems]
        present = [(n, m) for n, m in zip(names, metrics, strict=True) if m is not None]
        out += [
            "",
            f"### {t}",
            "",
            md_table(["metric", *(n for n, _ in present)], table_rows([m for _, m in present])),
        ]
    out += [
        "",
        "## Per-question outcome",
        "",
        "ok = right; ok* = right answer but a citation or retrieval miss; wrong; abstained; "
        "failed = the request failed.",
        "",
    ]
    by_id = [{q.id: q for q in s.questions} for s in run.systems]
    rows = [
        [q.id, q.type, *(outcome(m[q.id]) if q.id in m else "–" for m in by_id), q.question]
        for q in first.questions
    ]
    out.append(md_table(["id", "type", *names, "question"], rows, numeric=False))
    out += ["", f"## Per-question details: {first.system}", ""]
    out += [_md_question(q) + "\n" for q in first.questions]
    for s in run.baselines:
        misses = sum(q.miss for q in s.questions)
        out += [
            f"## Per-question details: {s.system}",
            "",
            "<details>",
            f"<summary>{s.system}: {misses} misses of {len(s.questions)} questions</summary>",
            "",
            *(_md_question(q) + "\n" for q in s.questions),
            "</details>",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def chart(run: RunReport, path: Path) -> None:
    """Grouped bars: one group per main metric, one bar per system."""
    matplotlib = require("matplotlib", "eval", "The evaluation chart (rag eval --out)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(run.systems)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(11, 5))
    for i, s in enumerate(run.systems):
        values = [getattr(s, m) for m in CHART_METRICS]
        xs = [j + (i - (n - 1) / 2) * width for j in range(len(CHART_METRICS))]
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=s.system)
        for bar, v in zip(bars, values, strict=True):
            label = "n/a" if v is None else f"{v:.2f}"
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(range(len(CHART_METRICS)), [m.replace("_", " ") for m in CHART_METRICS])
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("score")
    ax.set_title(f"{run.dataset}: {run.primary.n_questions} questions")
    ax.legend(loc="upper center", ncols=n, fontsize=8, bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(run: RunReport, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "results.json", out_dir / "report.md", out_dir / "chart.png"]
    paths[0].write_text(
        json.dumps(run.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    paths[1].write_text(markdown(run), encoding="utf-8")
    chart(run, paths[2])
    return paths
