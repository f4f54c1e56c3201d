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


def test_dev_questions_cite_exact_spans(real_pipeline: Pipeline) -> None:
    for line in DEV_SET.read_text().splitlines():
        answer = real_pipeline.ask(json.loads(line)["question"])
        assert_citations_exact(answer, real_pipeline)


# Every example question the README and the web page show, with what its answer must say.
SHOWN_EXAMPLES = [
    (
        "Where will NATO's new command for coordinating military aid to Ukraine be based?",
        "Wiesbaden",
    ),
    ("How many personnel will staff the new NATO command?", "700"),
    ("How many personnel will staff the new NATO mission?", "700"),
    ("Who is the forthcoming US envoy to Ukraine and Russia?", "Kellogg"),
    ("Who is Keith Kellogg?", "envoy"),
    ("What new command is NATO setting up?", "Wiesbaden"),
    ("Why is NATO taking over the coordination of aid from the United States?", "United States"),
    (
        "How quickly did Trump say he would end the war in Ukraine, and by what date did he vow "
        "to have it settled?",
        "24 hours",
    ),
    (
        "How quickly did Trump say he would end the war in Ukraine, and by what date did he vow "
        "to have it settled?",
        "January 20",
    ),
]


@pytest.mark.parametrize(("question", "must_say"), SHOWN_EXAMPLES)
def test_the_examples_we_show_are_answered(
    real_pipeline: Pipeline, question: str, must_say: str
) -> None:
    answer = real_pipeline.ask(question)
    assert not answer.abstained, answer.answer
    assert must_say in answer.answer
    assert_citations_exact(answer, real_pipeline)


def test_the_readme_follow_up_is_answered(real_pipeline: Pipeline) -> None:
    from rag.chat import Turn

    reply = real_pipeline.chat(
        [Turn("user", "What new command is NATO setting up?"), Turn("assistant", "…")],
        "How many personnel will staff it?",
    )
    assert "700" in reply.answer.answer


def test_off_topic_questions_abstain_without_a_citation(real_pipeline: Pipeline) -> None:
    for question in (
        "What is the capital of Australia's Northern Territory?",
        "How do I bake sourdough bread?",
        "Who won the 2022 football World Cup?",
        "thanks!! super helpful",
    ):
        answer = real_pipeline.ask(question)
        assert answer.abstained, (question, answer.answer)
        assert not answer.citations, (question, answer.answer)


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


def test_the_fold_seed_spread_at_the_model_seed_is_the_packaged_report(tmp_path: Path) -> None:
    """`rag train --fold-seeds` at the seed the model file was cross-validated with gives the
    figures its training record holds, for the 5-fold and each held-out corpus."""
    from rag.answer import AnswerModel
    from rag.answer.train import SEED, SPREAD_FIGURES
    from rag.cli.train import seed_spread

    record = AnswerModel.load().training["cross_validation"]
    rows = seed_spread(tmp_path, [SEED])
    assert {r.evaluation for r in rows} == {k for k in record if not k.startswith("baseline")}
    for r in rows:
        assert r.seed == SEED
        want = record[r.evaluation]["all"]
        for name in SPREAD_FIGURES:
            assert getattr(r, name) == want[name], (r.evaluation, name)


def test_rag_train_reproduces_the_packaged_model(tmp_path: Path) -> None:
    """The committed model file is what the training command fits on the committed data."""
    from rag.answer import AnswerModel
    from rag.answer.model import same_fit
    from rag.cli.train import train_model

    fitted, _ = train_model(tmp_path, cross_validation=False)
    packaged = AnswerModel.load()
    assert same_fit(fitted, packaged)
    from rag.answer.train import data_hashes
    from rag.cli.train import default_corpora

    assert packaged.training["data"] == data_hashes(default_corpora())
