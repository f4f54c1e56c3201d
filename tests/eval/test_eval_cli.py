"""`rag eval` end to end with the fake embedder, and the LangChain baseline's offsets."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rag.cli import cli
from rag.embed import FakeEmbedder
from rag.eval import METRIC_NAMES, PipelineSystem, evaluate, load_dataset
from rag.eval.baselines import LangChainSystem, baseline_systems, split_documents
from rag.pipeline import Pipeline
from tests.conftest import DEV_SET

BASELINES = {"bm25", "dense", "hybrid-top", "langchain"}


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, ["eval", *args], env=env, catch_exceptions=False)


def test_json_prints_one_object_with_every_metric(env: dict[str, str]) -> None:
    result = run(["--dataset", str(DEV_SET), "--json"], env)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)  # nothing but the object on stdout
    for name in (*METRIC_NAMES, "by_type", "questions", "median_answer_chars"):
        assert name in data, name
    assert data["system"] == "full" and data["n_questions"] == 16 and data["baselines"] == {}
    assert 0.0 <= data["answer_accuracy"] <= 1.0
    assert set(data["by_type"]) == {"factoid", "multi-hop", "unanswerable"}
    assert data["by_type"]["unanswerable"]["n_questions"] == 2
    first = data["questions"][0]
    assert first["id"] == "d01" and first["gold"][0]["doc"] == "003_8a617f4c2dcdd12b.txt"
    assert len(first["retrieved"]) == 10  # ranking metrics see ten passages


def test_compare_writes_results_report_and_chart(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "eval-out"
    result = run(["--dataset", str(DEV_SET), "--compare", "--out", str(out)], env)
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header == ["metric", "bm25", "dense", "hybrid-top", "full", "langchain"]
    assert "full: misses" in result.stdout

    data = json.loads((out / "results.json").read_text())
    assert data["system"] == "full" and set(data["baselines"]) == BASELINES
    for report in data["baselines"].values():
        assert all(name in report for name in METRIC_NAMES)
        assert report["false_abstention"] == 0.0  # baselines never abstain
        assert len(report["questions"]) == 16
    md = (out / "report.md").read_text()
    assert "| metric | bm25 | dense | hybrid-top | full | langchain |" in md
    assert "## Per-question details: full" in md and "### factoid" in md
    assert (out / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_baseline_answer_is_its_top_passage_and_cites_it(pipeline: Pipeline) -> None:
    systems = baseline_systems(pipeline)
    it = load_dataset(DEV_SET)[0]
    for system in systems.values():
        out = system.run(it)
        assert not out.abstained and len(out.citations) == 1
        top = out.ranking[0]
        assert out.answer == top.text and out.citations[0] == top
        text = pipeline.index.documents[top.doc_id].text
        assert text[top.start : top.end] == top.text
        assert len(out.ranking) == 10


def test_langchain_chunks_locate_their_text(pipeline: Pipeline) -> None:
    documents = list(pipeline.index.documents.values())
    chunks = split_documents(documents)
    texts = {d.doc_id: d.text for d in documents}
    assert len(chunks) > len(documents)  # the articles are longer than one 1000-char chunk
    for chunk in chunks:
        meta = chunk.metadata
        assert len(chunk.page_content) <= 1000
        assert texts[meta["doc_id"]][meta["start_index"] : meta["end_index"]] == chunk.page_content


def test_langchain_baseline_shares_the_pipeline_embedder(pipeline: Pipeline) -> None:
    embedder = pipeline.embedder
    assert isinstance(embedder, FakeEmbedder)
    before = embedder.calls
    system = LangChainSystem(list(pipeline.index.documents.values()), embedder)
    out = system.run(load_dataset(DEV_SET)[1])
    assert embedder.calls > before
    assert out.citations[0].text == out.answer and len(out.ranking) == 10


def test_library_runner_with_a_custom_top_k(pipeline: Pipeline) -> None:
    items = load_dataset(DEV_SET)[:3]
    report = evaluate(PipelineSystem(pipeline, top_k=2), items)
    assert all(len(q.retrieved) == 10 for q in report.questions)
    assert report.n_questions == 3 and report.latency_p50_ms is not None


def test_malformed_line_exits_non_zero_naming_the_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = DEV_SET.read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1], '{"id": "x", "question": ']) + "\n")
    result = run(["--dataset", str(bad), "--json"], env)
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{bad} line 3: not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_empty_or_missing_dataset_exits_non_zero(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    result = run(["--dataset", str(empty)], env)
    assert result.exit_code == 2 and "holds no questions" in result.stderr
    result = run(["--dataset", str(tmp_path / "gone.jsonl")], env)
    assert result.exit_code == 2 and "dataset not found" in result.stderr
    assert "Traceback" not in result.output


def test_bad_against_url(env: dict[str, str]) -> None:
    result = run(["--dataset", str(DEV_SET), "--against", "localhost:8000"], env)
    assert result.exit_code == 2 and "--against" in result.stderr


def test_full_system_answers_exactly_as_pipeline_ask(pipeline: Pipeline) -> None:
    system = PipelineSystem(pipeline)
    for it in load_dataset(DEV_SET)[:5]:
        out = system.run(it)
        expected = pipeline.ask(it.question)
        assert out.answer == expected.answer and out.abstained == expected.abstained
        assert [(c.doc_id, c.start, c.end) for c in out.citations] == [
            (c.doc_id, c.start, c.end) for c in expected.citations
        ]
        # The deeper ranking starts with the passages the answer was drawn from.
        assert [(p.doc_id, p.start) for p in out.ranking[: len(expected.passages)]] == [
            (p.doc_id, p.start) for p in expected.passages
        ]
