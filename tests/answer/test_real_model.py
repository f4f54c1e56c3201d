"""Slow tier: the real MiniLM model end to end (CI runs it too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.pipeline import Pipeline
from tests.answer.test_answer import assert_citations_exact
from tests.conftest import DEV_SET, SEEDS

pytestmark = pytest.mark.slow


def test_real_model_embeds_normalised_384_dim(real_pipeline: Pipeline) -> None:
    vectors = real_pipeline.embedder.encode(["NATO command in Wiesbaden", "Ramstein Group"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4
    assert real_pipeline.index.manifest["embedding"]["model_id"].endswith("all-MiniLM-L6-v2")


def test_dev_questions_cite_exact_spans_and_abstain_right(real_pipeline: Pipeline) -> None:
    for line in DEV_SET.read_text().splitlines():
        item = json.loads(line)
        answer = real_pipeline.ask(item["question"])
        assert_citations_exact(answer, real_pipeline)
        assert answer.abstained == (not item["answerable"]), item["id"]


def test_off_topic_questions_abstain(real_pipeline: Pipeline) -> None:
    for question in (
        "What is the capital of Australia's Northern Territory?",
        "How do I bake sourdough bread?",
        "Who won the 2022 football World Cup?",
    ):
        answer = real_pipeline.ask(question)
        assert answer.abstained, (question, answer.answer)


def test_two_part_question_gets_both_facts(real_pipeline: Pipeline) -> None:
    answer = real_pipeline.ask(
        "How does the NATO command's staff compare in size with the US unit it takes over from?"
    )
    assert "700" in answer.answer and "300" in answer.answer
    assert len({c.doc_id for c in answer.citations}) == 2


def test_sentence_transformers_backend_answers_the_same(
    real_pipeline: Pipeline, tmp_path: Path
) -> None:
    from rag.settings import Settings

    torch_pipeline = Pipeline.load(
        Settings(seeds_dir=SEEDS, index_dir=tmp_path / "index", embed_backend="torch")
    )
    assert type(torch_pipeline.embedder).__name__ == "SentenceTransformerEmbedder"
    for question in (
        "How many personnel will staff the NATO Security Assistance and Training for Ukraine?",
        "What is the Ukraine Defense Contact Group also known as?",
    ):
        assert torch_pipeline.ask(question).answer == real_pipeline.ask(question).answer


def test_rag_ask_json_in_a_fresh_process(tmp_path: Path) -> None:
    env = os.environ | {
        "RAG_SEEDS_DIR": str(SEEDS),
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_EMBED_BACKEND": "onnx",
    }
    rag = Path(sys.executable).with_name("rag")
    proc = subprocess.run(
        [str(rag), "ask", "--json", "Where will NATO's new command be based?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "Wiesbaden" in data["answer"] and not data["abstained"]
    assert "Traceback" not in proc.stderr


def test_accounts_that_changed_over_time_are_both_given_in_date_order(
    real_pipeline: Pipeline,
) -> None:
    answer = real_pipeline.ask(
        "Has the Biden administration allowed Ukraine to use long-range missiles on Russian "
        "territory?"
    )
    assert not answer.abstained
    assert "resist" in answer.answer and "authorized" in answer.answer
    assert answer.answer.index("resist") < answer.answer.index("authorized")  # earlier first
    assert {c.doc_id for c in answer.citations} == {
        "000_14cb71510f2b07a6.txt",
        "002_6ed1ac909a21d9b7.txt",
    }
    assert answer.answer.startswith("In ")  # each account carries when it was reported
    assert_citations_exact(answer, real_pipeline)


def test_asked_for_kind_missing_means_abstain(real_pipeline: Pipeline) -> None:
    # On topic, but no on-topic sentence holds a figure or a name.
    for question in (
        "How much money has the Biden administration invested in Ukraine's defense industry?",
        "Who will be NATO's senior civilian representative in Kyiv?",
    ):
        answer = real_pipeline.ask(question)
        assert answer.abstained, (question, answer.answer)


def test_the_fact_in_the_next_sentence_is_found(real_pipeline: Pipeline) -> None:
    answer = real_pipeline.ask(
        "What annual financial pledge for Ukraine was being discussed before the summit?"
    )
    assert "40 billion" in answer.answer
    assert len(answer.answer) <= 300  # two cited sentences, trimmed to fit
