"""Text validity: the one check every edge runs (lone surrogates, undecodable bytes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import DatasetError, InvalidQuestionError, InvalidTextError, SeedReadError
from rag.eval.dataset import load_dataset
from rag.ingest import load_corpus
from rag.pipeline import Pipeline, validate_question
from rag.settings import Settings
from rag.text.valid import check_text, text_problem


@pytest.mark.parametrize(
    "text", ["plain", "", "émigré, Київ, 北约 and 🚀", "tab\tand\nnew line", "nul \x00 byte"]
)
def test_valid_unicode_passes(text: str) -> None:
    assert text_problem(text) is None
    assert check_text(text, "it") == text


def test_a_lone_surrogate_is_named_with_its_position() -> None:
    problem = text_problem("ab\ud800")
    assert problem is not None and "U+D800 at character 3" in problem and "surrogate" in problem


def test_an_undecodable_command_line_byte_is_named() -> None:
    # Python decodes argv with surrogateescape: byte 0xFF arrives as U+DCFF.
    problem = text_problem(b"Where is \xff the command?".decode("utf-8", "surrogateescape"))
    assert problem is not None and "0xFF" in problem and "not UTF-8" in problem


def test_check_text_names_the_field() -> None:
    with pytest.raises(InvalidTextError, match=r"messages\[1\]\.content is not valid text"):
        check_text("\udfff", "messages[1].content")


def test_questions_with_a_surrogate_are_refused_before_the_model(
    settings: Settings, pipeline: Pipeline
) -> None:
    with pytest.raises(InvalidQuestionError, match="not valid text"):
        validate_question("Where is \ud800 the command?", settings)
    for call in (pipeline.ask, pipeline.search):
        with pytest.raises(InvalidQuestionError):
            call("\ud800")


def test_a_question_set_line_with_a_surrogate_is_a_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "q1", "question": "Who \\ud800?", "answerable": false}\n')
    with pytest.raises(DatasetError, match=r"line 1: question: .*not valid text"):
        load_dataset(path)


def test_article_metadata_with_a_surrogate_is_a_seed_error(seeds_dir: Path) -> None:
    sidecar = seeds_dir / "metadata.json"
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    name = next(k for k in data if not k.startswith("_"))
    data[name]["title"] = "Broken \ud800 title"
    sidecar.write_text(json.dumps(data), encoding="utf-8")  # ASCII escapes: valid JSON
    with pytest.raises(SeedReadError, match=r"title: .*not valid text"):
        load_corpus(seeds_dir)
