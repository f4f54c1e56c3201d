from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import cli


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_ask_json_prints_the_answer_object(env: dict[str, str]) -> None:
    question = "How many rounds of ammunition does Russia produce a year?"
    result = run(["ask", "--json", "--top-k", "4", question], env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == question and not data["abstained"]
    assert len(data["passages"]) == 4
    assert data["citations"], "an answered question cites its passage"
    for c in data["citations"]:
        text = (Path(env["RAG_SEEDS_DIR"]) / c["doc_id"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]


def test_ask_prints_answer_and_numbered_sources(env: dict[str, str]) -> None:
    result = run(["ask", "How many rounds of ammunition does Russia produce a year?"], env)
    assert result.exit_code == 0
    assert "3 million" in result.stdout and "Sources" in result.stdout and " [1] " in result.stdout


def test_search_and_index(env: dict[str, str]) -> None:
    built = run(["index"], env)
    assert built.exit_code == 0 and "Indexed 5 documents" in built.stdout
    found = run(["search", "--top-k", "2", "Ramstein Group"], env)
    assert found.exit_code == 0 and found.stdout.startswith("1. ")


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_non_zero_with_a_message(env: dict[str, str], question: str) -> None:
    result = run(["ask", question], env)
    assert result.exit_code == 2
    assert "question is empty" in result.stderr and "Traceback" not in result.output


def test_missing_seeds_folder(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["ask", "anything?"], env | {"RAG_SEEDS_DIR": str(tmp_path / "gone")})
    assert result.exit_code == 1
    assert "Seeds folder not found" in result.stderr and "Traceback" not in result.output


def test_unreadable_seed_file(env: dict[str, str]) -> None:
    (Path(env["RAG_SEEDS_DIR"]) / "broken.txt").write_bytes(b"\xff\xfe\xfa")
    result = run(["ask", "anything?"], env)
    assert result.exit_code == 1 and "broken.txt is not valid UTF-8" in result.stderr


def test_corrupted_index(env: dict[str, str]) -> None:
    assert run(["index"], env).exit_code == 0
    index_dir = Path(env["RAG_INDEX_DIR"])
    live = index_dir / (index_dir / "CURRENT").read_text().strip()
    (live / "chunks.faiss").write_bytes(b"not a faiss file")
    result = run(["ask", "anything?"], env)
    assert result.exit_code == 1
    assert "corrupted" in result.stderr and "rag index" in result.stderr
    assert "Traceback" not in result.output


def test_bad_setting_is_reported(env: dict[str, str]) -> None:
    result = run(["ask", "anything?"], env | {"RAG_TOP_K": "many"})
    assert result.exit_code == 1 and "invalid RAG_* setting" in result.stderr


def test_overlong_question_fails_before_loading_anything(env: dict[str, str]) -> None:
    result = run(["ask", "why " * 600], env)
    assert result.exit_code == 2 and "limit is 2000" in result.stderr
    assert not Path(env["RAG_INDEX_DIR"]).exists()  # rejected before the index was built


def test_inconsistent_chunk_settings_are_reported(env: dict[str, str]) -> None:
    result = run(["ask", "anything?"], env | {"RAG_CHUNK_OVERLAP": "3"})
    assert result.exit_code == 1
    assert "RAG_CHUNK_OVERLAP (3) must be smaller than RAG_CHUNK_SENTENCES (3)" in result.stderr


def test_top_k_out_of_range(env: dict[str, str]) -> None:
    result = run(["ask", "--top-k", "0", "anything?"], env)
    assert result.exit_code == 2 and "--top-k" in result.stderr


def test_an_invalid_byte_in_the_question_is_bad_input(env: dict[str, str]) -> None:
    # A real process, so argv goes through Python's own decoding (surrogateescape).
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", b"Where is \xff the command?"],
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, stderr
    assert "not valid text" in stderr and "0xFF" in stderr
    assert "Traceback" not in stderr and "unexpected" not in stderr


def test_a_lone_surrogate_in_search_is_bad_input(env: dict[str, str]) -> None:
    result = run(["search", "Ramstein \ud800"], env)
    assert result.exit_code == 2 and "not valid text" in result.stderr


def test_a_reader_that_goes_away_is_not_an_error(env: dict[str, str]) -> None:
    """`rag list | head -1`: the pipe closes early; no traceback, no error line."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "list"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before anything is written
    _, err = proc.communicate(timeout=120)
    assert b"BrokenPipe" not in err and b"Traceback" not in err and b"error" not in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["train", "--fold-seeds", "42,seven"], "whole numbers"),
        (["train", "--fold-seeds", "42,42"], "twice"),
        (["train", "--fold-seeds", "5,-1"], "0 or more"),
        (["train", "--fold-seeds", "42", "--check"], "only measures"),
        (["train", "--fold-seeds", "--check"], "only measures"),  # the default seeds
    ],
)
def test_bad_fold_seeds_exit_2_before_any_training(
    env: dict[str, str], args: list[str], says: str
) -> None:
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2, result.output
    assert says in result.output
