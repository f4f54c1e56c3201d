"""`rag chat` driven through a pseudo-terminal with pexpect, as a person types it (colour on
a terminal, none with NO_COLOR), and `rag chat --json` for scripts. The fake embedder in the
fast tier; the real model answers the follow-up in the slow tier."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from rag.settings import PROJECT_ROOT
from tests.conftest import SEEDS

COMMAND = "What new command is NATO setting up?"
STAFF = "How many personnel will staff it?"
WHERE = "Where will it be based?"
PROMPT = "you> "
SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour and bold codes


def spawn(env: dict[str, str], *args: str, colour: bool = True) -> pexpect.spawn:
    child_env = {**os.environ, **env, "TERM": "dumb" if not colour else "xterm"}
    child_env.pop("NO_COLOR", None)
    if not colour:
        child_env["NO_COLOR"] = "1"
    return pexpect.spawn(
        sys.executable,
        ["-m", "rag.cli", "chat", *args],
        cwd=str(PROJECT_ROOT),
        env=child_env,
        encoding="utf-8",
        timeout=180,  # a guard against a hang, not a measurement
        dimensions=(50, 120),
    )


def ask(child: pexpect.spawn, line: str) -> str:
    """Type a line; everything printed until the next prompt."""
    child.sendline(line)
    child.expect_exact(PROMPT)
    return str(child.before)


def plain(text: str) -> str:
    return SGR.sub("", text).replace("\r\n", "\n")


def test_a_conversation_in_a_terminal(env: dict[str, str]) -> None:
    child = spawn(env)
    child.expect_exact(PROMPT)
    answer = ask(child, COMMAND)
    assert SGR.search(answer), "a terminal gets colour"
    text = plain(answer)
    assert "Wiesbaden" in text and "[1]" in text
    assert "Sources" in text and re.search(r"^ \[1\] \S", text, re.M)
    assert "searched for" not in text  # a self-contained question is not rewritten

    shown = plain(ask(child, "/sources 1"))
    assert "characters" in shown and "Wiesbaden" in shown

    follow = plain(ask(child, WHERE))  # a follow-up, resolved from the conversation
    assert "(searched for: Where will it be based? (new command setting))" in follow
    assert "Wiesbaden" in follow

    assert "no source '7'" in plain(ask(child, "/sources 7"))
    assert "/sources N" in plain(ask(child, "/help"))
    assert "Unknown command" in plain(ask(child, "/nonsense"))
    assert "New conversation" in plain(ask(child, "/new"))
    fresh = plain(ask(child, WHERE))  # no history any more: nothing to resolve against
    assert "searched for" not in fresh
    assert "No sources" in plain(ask(child, "/sources 1")) or "Sources" in fresh
    assert "error:" in plain(ask(child, "x" * 2100))  # bad input: a message, not an exit
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_no_colour_with_no_color_and_ctrl_d_leaves(env: dict[str, str]) -> None:
    child = spawn(env, colour=False)
    child.expect_exact(PROMPT)
    answer = ask(child, COMMAND)
    assert not SGR.search(answer) and "Wiesbaden" in answer and "Sources" in answer
    shown = ask(child, "/sources 1")
    assert not SGR.search(shown)
    assert re.search(r"»[^«]*Wiesbaden[^«]*«", shown.replace("\r\n", " "))  # the quote marked
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def run_json(env: dict[str, str], lines: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "chat", "--json"],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        timeout=300,
        check=False,
    )


def test_json_mode_one_answer_object_per_line(env: dict[str, str]) -> None:
    done = run_json(env, [COMMAND, "", WHERE, "/new", WHERE])
    assert done.returncode == 0, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["question"] for o in objects] == [COMMAND, WHERE, WHERE]
    assert "Wiesbaden" in objects[0]["answer"] and objects[0]["citations"]
    assert objects[1]["resolved_question"] != WHERE  # the follow-up was resolved
    assert objects[2]["resolved_question"] == WHERE  # /new forgot the history
    for o in objects:
        for c in o["citations"]:
            text = (SEEDS / c["doc_id"]).read_bytes().decode("utf-8")
            assert text[c["start"] : c["end"]] == c["quote"]


def test_json_mode_reports_a_bad_line_and_goes_on(env: dict[str, str]) -> None:
    done = run_json(env, ["x" * 2100, COMMAND])
    assert done.returncode == 2
    bad, good = (json.loads(line) for line in done.stdout.splitlines())
    assert bad["error"]["code"] == "invalid_question" and "2000" in bad["error"]["message"]
    assert "Wiesbaden" in good["answer"]
    assert "error:" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_real_model_follow_up_in_a_terminal(tmp_path: Path) -> None:
    env = {
        "RAG_SEEDS_DIR": str(SEEDS),
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_EMBED_BACKEND": "onnx",
    }
    child = spawn(env, colour=False)
    child.expect_exact(PROMPT)
    first = ask(child, COMMAND)
    assert "Wiesbaden" in first and "Sources" in first
    follow = ask(child, STAFF)
    assert "searched for" in follow and "700" in follow and " [1] " in follow
    shown = ask(child, "/sources 1")
    assert "700" in shown and "»" in shown
    child.sendline("/quit")
    child.expect(pexpect.EOF)
