"""Scoring functions of `rag eval` on hand-made cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rag.errors import DatasetError
from rag.eval.dataset import EvalItem, Evidence, load_dataset
from rag.eval.metrics import (
    METRIC_NAMES,
    RunReport,
    SpanRef,
    SystemOutput,
    aggregate,
    first_relevant_rank,
    missing_key_facts,
    ndcg_at,
    on_evidence,
    overlaps,
    recall_at,
    reciprocal_rank,
    score_question,
)
from rag.eval.report import markdown, side_by_side, terminal_details, write_outputs
from rag.eval.systems import evaluate
from rag.progress import LogReporter

DOC = "003_x.txt"
OTHER = "004_y.txt"


def item(
    answerable: bool = True,
    key_facts: list[list[str]] | None = None,
    evidence: list[tuple[str, int, int]] | None = None,
    type_: str = "factoid",
    id_: str = "q1",
) -> EvalItem:
    return EvalItem(
        id=id_,
        question=f"question {id_}?",
        answerable=answerable,
        answer="reference",
        key_facts=key_facts if key_facts is not None else ([["Wiesbaden"]] if answerable else []),
        evidence=[
            Evidence(doc=d, quote="", start=s, end=e)
            for d, s, e in (evidence if evidence is not None else [(DOC, 100, 150)])
        ]
        if answerable
        else [],
        type=type_ if answerable else "unanswerable",
    )


def span(doc: str, start: int, end: int) -> SpanRef:
    return SpanRef(doc_id=doc, start=start, end=end, text="quoted")


def answer(
    text: str = "It will be in Wiesbaden [1]",
    citations: list[SpanRef] | None = None,
    ranking: list[SpanRef] | None = None,
    abstained: bool = False,
    latency: float = 10.0,
) -> SystemOutput:
    return SystemOutput(
        answer=text,
        abstained=abstained,
        citations=citations if citations is not None else [span(DOC, 120, 200)],
        ranking=ranking if ranking is not None else [span(DOC, 90, 300)],
        latency_ms=latency,
    )


# --- spans ---------------------------------------------------------------------------------


def test_overlap_is_half_open_and_per_document() -> None:
    assert overlaps(DOC, 0, 6, DOC, 5, 9)
    assert not overlaps(DOC, 0, 5, DOC, 5, 9)  # touching: no shared character
    assert not overlaps(DOC, 5, 9, DOC, 0, 5)
    assert overlaps(DOC, 0, 100, DOC, 40, 41)  # containment
    assert not overlaps(DOC, 0, 100, OTHER, 0, 100)  # same offsets, other article


def test_citation_in_the_wrong_document_does_not_count() -> None:
    result = score_question(item(), answer(citations=[span(OTHER, 100, 150)]))
    assert result.correct  # the answer text is right...
    assert result.citation_hit is False and result.citation_precision == 0.0
    assert "no citation overlaps the evidence" in result.reasons and result.miss


def test_citation_precision_is_the_share_on_evidence() -> None:
    cites = [span(DOC, 140, 160), span(DOC, 150, 170), span(OTHER, 100, 150), span(DOC, 0, 101)]
    result = score_question(item(), answer(citations=cites))
    assert [c.on_evidence for c in result.citations] == [True, False, False, True]
    assert result.citation_hit is True and result.citation_precision == 0.5
    assert "2 of 4 citations off the evidence" in result.reasons


def test_on_evidence_with_several_gold_spans() -> None:
    gold = [Evidence(doc=DOC, start=10, end=20), Evidence(doc=OTHER, start=500, end=600)]
    assert on_evidence(span(OTHER, 599, 700), gold)
    assert not on_evidence(span(OTHER, 600, 700), gold)
    assert not on_evidence(span(DOC, 500, 600), gold)


# --- answers and abstention ------------------------------------------------------------------


def test_key_fact_groups_with_alternatives_are_case_insensitive() -> None:
    groups = [["3 million", "three million"], ["Germany"], ["U.S.", "United States"]]
    assert missing_key_facts("THREE MILLION rounds; germany and the united states", groups) == []
    assert missing_key_facts("3 million rounds from Germany", groups) == [["U.S.", "United States"]]
    assert missing_key_facts("", groups) == groups


def test_answer_missing_a_key_fact_group_is_wrong_and_says_which() -> None:
    it = item(key_facts=[["700"], ["300", "three hundred"]])
    result = score_question(it, answer(text="nearly 700 personnel [1]"))
    assert not result.correct and result.missing_key_facts == [["300", "three hundred"]]
    assert any("missing key facts: '300' | 'three hundred'" in r for r in result.reasons)


def test_empty_answer_is_wrong_and_uncited_answer_scores_zero_precision() -> None:
    result = score_question(item(), answer(text="", citations=[]))
    assert not result.correct and not result.abstained
    assert result.citation_precision == 0.0 and result.citation_hit is False
    assert "answered without citations" in result.reasons


def test_abstaining_on_an_answerable_question_is_a_false_abstention() -> None:
    result = score_question(item(), answer(text="The articles don't say.", abstained=True))
    assert not result.correct and result.abstained
    assert result.citation_precision is None  # not answered: outside the precision average
    assert "abstained on an answerable question" in result.reasons
    m = aggregate([result])
    assert m.false_abstention == 1.0 and m.answer_accuracy == 0.0
    assert m.citation_precision is None and m.abstention_recall is None


def test_answering_an_unanswerable_question_misses_abstention_recall() -> None:
    answered = score_question(item(answerable=False, id_="u1"), answer())
    abstained = score_question(
        item(answerable=False, id_="u2"), answer(text="No.", abstained=True, citations=[])
    )
    assert not answered.correct and answered.miss
    assert "answered an unanswerable question (should abstain)" in answered.reasons
    assert abstained.correct and not abstained.miss
    m = aggregate([answered, abstained])
    assert m.abstention_recall == 0.5
    assert m.answer_accuracy is None and m.false_abstention is None and m.mrr is None


def test_failed_request_counts_as_wrong_and_is_reported() -> None:
    failed = SystemOutput(error="POST /ask: HTTP 500 boom")
    on_answerable = score_question(item(), failed)
    on_unanswerable = score_question(item(answerable=False, id_="u"), failed)
    assert on_answerable.failed and not on_answerable.correct and not on_answerable.abstained
    assert on_answerable.reasons[0] == "request failed: POST /ask: HTTP 500 boom"
    assert on_unanswerable.failed and not on_unanswerable.correct  # silence is not abstaining
    m = aggregate([on_answerable, on_unanswerable, score_question(item(id_="ok"), answer())])
    assert m.n_failed == 2
    assert m.answer_accuracy == 0.5 and m.citation_recall == 0.5
    assert m.abstention_recall == 0.0 and m.false_abstention == 0.0
    assert m.recall_at_1 == 0.5  # a failed question retrieved nothing
    assert m.latency_p50_ms == 10.0  # failed requests have no latency


# --- rankings ----------------------------------------------------------------------------------


def test_recall_and_reciprocal_rank_on_toy_rankings() -> None:
    ranking = [False, False, True, False, True]
    assert first_relevant_rank(ranking) == 3
    assert [recall_at(ranking, k) for k in (1, 2, 3, 10)] == [0.0, 0.0, 1.0, 1.0]
    assert reciprocal_rank(ranking) == pytest.approx(1 / 3)
    assert reciprocal_rank([False] * 10) == 0.0 and first_relevant_rank([]) is None


def test_ndcg_binary_gains() -> None:
    assert ndcg_at([True, False, False], n_evidence=1) == 1.0
    assert ndcg_at([False, True], n_evidence=1) == pytest.approx(1 / math.log2(3))
    # Two evidence spans, one found at rank 1: DCG 1, ideal 1 + 1/log2(3).
    assert ndcg_at([True, False], n_evidence=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    # Two overlapping passages on one evidence span: the ideal grows, the score stays <= 1.
    assert ndcg_at([True, True], n_evidence=1) == 1.0
    assert ndcg_at([False, True, True], n_evidence=1) < 1.0
    assert ndcg_at([False] * 10, n_evidence=1) == 0.0
    # Only the first k count.
    assert ndcg_at([False] * 10 + [True], n_evidence=1, k=10) == 0.0


def test_aggregate_ranking_metrics_over_answerable_questions() -> None:
    hit, miss = span(DOC, 100, 200), span(DOC, 0, 100)
    results = [
        score_question(item(id_="a"), answer(ranking=[hit, miss])),
        score_question(item(id_="b"), answer(ranking=[miss, miss, miss, miss, hit])),
        score_question(item(id_="c"), answer(ranking=[miss] * 10)),
        # Unanswerable questions never count in ranking metrics.
        score_question(item(answerable=False, id_="u"), answer(ranking=[miss])),
    ]
    m = aggregate(results)
    assert m.recall_at_1 == pytest.approx(1 / 3)
    assert m.recall_at_4 == pytest.approx(1 / 3)
    assert m.recall_at_5 == pytest.approx(2 / 3) and m.recall_at_10 == pytest.approx(2 / 3)
    assert m.mrr == pytest.approx((1 + 1 / 5 + 0) / 3)
    assert m.ndcg_at_10 == pytest.approx((1 + 1 / math.log2(6)) / 3)
    assert "no retrieved passage (of 10) overlaps the evidence" in results[2].reasons


def test_median_answer_chars_counts_answered_questions_only() -> None:
    results = [
        score_question(item(id_="a"), answer(text="x" * 10)),
        score_question(item(id_="b"), answer(text="y" * 30)),
        score_question(item(id_="c"), answer(text="z" * 500, abstained=True)),
    ]
    assert aggregate(results).median_answer_chars == 20.0


class _Canned:
    name = "canned"
    description = "answers from a table"

    def __init__(self, outputs: dict[str, SystemOutput]) -> None:
        self.outputs = outputs

    def run(self, it: EvalItem) -> SystemOutput:
        return self.outputs[it.id]


def test_evaluate_reports_overall_and_by_type() -> None:
    items = [
        item(id_="f1"),
        item(id_="m1", type_="multi-hop"),
        item(answerable=False, id_="u1"),
    ]
    system = _Canned(
        {
            "f1": answer(),
            "m1": answer(text="somewhere else [1]"),
            "u1": answer(text="The articles don't say.", abstained=True, citations=[]),
        }
    )
    seen: list[tuple[str, int, int]] = []

    class Recorder(LogReporter):
        def progress(self, label: str, done: int, total: int, unit: str = "text") -> None:
            seen.append((label, done, total))

    report = evaluate(system, items, Recorder())
    assert seen[0] == ("eval canned", 0, 3) and seen[-1] == ("eval canned", 3, 3)
    assert report.answer_accuracy == 0.5 and report.abstention_recall == 1.0
    assert set(report.by_type) == {"factoid", "multi-hop", "unanswerable"}
    assert report.by_type["factoid"].answer_accuracy == 1.0
    assert report.by_type["multi-hop"].answer_accuracy == 0.0
    assert report.by_type["unanswerable"].abstention_recall == 1.0
    assert [q.id for q in report.questions if q.miss] == ["m1"]

    run = RunReport(
        dataset="toy.jsonl", target="library", model=None, top_k=None,
        primary_system="canned", systems=[report],
    )  # fmt: skip
    data = run.to_json()
    assert all(name in data for name in METRIC_NAMES) and data["baselines"] == {}
    assert data["by_type"]["factoid"]["answer_accuracy"] == 1.0
    table = side_by_side(run)
    assert "answer_accuracy" in table and "canned" in table
    details = terminal_details(report, verbose=False)
    assert "m1" in details and "f1" not in details
    assert "f1" in terminal_details(report, verbose=True)
    md = markdown(run)
    assert "| answer_accuracy | 0.500 |" in md and "### multi-hop" in md
    assert "missing key facts: 'Wiesbaden'" in md and "gold `003_x.txt [100, 150)`" in md


def test_write_outputs(tmp_path: Path) -> None:
    report = evaluate(_Canned({"q1": answer()}), [item()])
    run = RunReport(
        dataset="toy.jsonl", target="library", model=None, top_k=None,
        primary_system="canned", systems=[report],
    )  # fmt: skip
    paths = write_outputs(run, tmp_path / "new" / "out")
    assert [p.name for p in paths] == ["results.json", "report.md", "chart.png"]
    assert json.loads(paths[0].read_text())["answer_accuracy"] == 1.0
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- loading the question set -----------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = json.dumps(
    {
        "id": "x1",
        "question": "Where?",
        "answerable": True,
        "answer": "There.",
        "key_facts": [["there"]],
        "evidence": [{"doc": DOC, "quote": "there", "start": 1, "end": 6}],
        "type": "factoid",
    }
)


def test_load_dataset_reads_the_shared_dev_set() -> None:
    items = load_dataset(Path(__file__).resolve().parents[2] / "eval" / "dev.jsonl")
    assert len(items) == 16 and items[0].id == "d01"
    assert sum(not i.answerable for i in items) == 2
    assert items[0].evidence[0].end - items[0].evidence[0].start == len(items[0].evidence[0].quote)


def test_load_dataset_skips_blank_lines(tmp_path: Path) -> None:
    assert [i.id for i in load_dataset(write(tmp_path, f"\n{GOOD}\n\n"))] == ["x1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no questions"),
        ("\n  \n", "holds no questions"),
        (GOOD + "\n{not json\n", "line 2: not valid JSON"),
        (GOOD + "\n[1, 2]\n", "line 2: expected a JSON object, got list"),
        ('{"id": "a", "answerable": true}\n', "line 1: question: Field required"),
        (GOOD.replace('"start": 1', '"start": 9'), "line 1: evidence.0: Value error"),
        (GOOD + "\n" + GOOD, "line 2: duplicate id 'x1' (first on line 1)"),
    ],
)
def test_bad_dataset_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="dataset not found"):
        load_dataset(tmp_path / "nope.jsonl")
