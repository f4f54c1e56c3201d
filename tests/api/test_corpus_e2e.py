"""End to end: a real `rag serve` while articles are added, updated and deleted over HTTP
and with `rag add` / `rag remove` in other processes; kill -9 in the middle of an add."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rag.settings import PROJECT_ROOT
from tests.articles import ARTICLE, QUESTION, UPDATED_ARTICLE
from tests.conftest import SEEDS
from tests.devserver import running_server

pytestmark = pytest.mark.e2e

KEY = "corpus-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
CORPUS_DEV = PROJECT_ROOT / "eval" / "corpus-dev" / "articles"
# Waits for a condition, never asserts a duration: a slow machine only waits longer.
PATIENCE_S = 120.0


def corpus_env(tmp: Path, backend: str = "fake") -> dict[str, str]:
    return {
        "RAG_SEEDS_DIR": str(SEEDS),
        "RAG_INDEX_DIR": str(tmp / "index"),
        "RAG_LIBRARY_DIR": str(tmp / "library"),
        "RAG_EMBED_BACKEND": backend,
        "RAG_API_KEY": KEY,
    }


def rag(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_for(check, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + PATIENCE_S
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def doc_ids(base: str) -> set[str]:
    return {d["doc_id"] for d in httpx.get(f"{base}/documents", headers=AUTH).json()}


def cited(base: str, question: str = QUESTION) -> tuple[dict, set[str]]:  # type: ignore[type-arg]
    body = httpx.post(f"{base}/ask", json={"question": question}, headers=AUTH, timeout=60).json()
    return body, {c["doc_id"] for c in body["citations"]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = corpus_env(tmp_path)
    with running_server(tmp_path / "server.log", env, timeout=180) as base:
        yield base, env


def test_http_round_trip_without_restart(server: tuple[str, dict[str, str]]) -> None:
    base, _ = server
    created = httpx.post(
        f"{base}/documents", json={"text": ARTICLE, "doc_id": "q.txt"}, headers=AUTH, timeout=60
    )
    assert created.status_code == 201, created.text
    answer = httpx.post(f"{base}/ask", json={"question": QUESTION}, headers=AUTH).json()
    assert answer["passages"][0]["doc_id"] == "q.txt"
    text = httpx.get(f"{base}/documents/q.txt", headers=AUTH).json()["text"]
    for c in answer["citations"]:
        assert text[c["start"] : c["end"]] == c["quote"]
    put = httpx.put(
        f"{base}/documents/q.txt", json={"text": UPDATED_ARTICLE}, headers=AUTH, timeout=60
    )
    assert put.status_code == 200
    assert httpx.get(f"{base}/documents/q.txt", headers=AUTH).json()["text"] == UPDATED_ARTICLE
    assert httpx.delete(f"{base}/documents/q.txt", headers=AUTH, timeout=60).status_code == 204
    _, after = cited(base)
    assert "q.txt" not in after and "q.txt" not in doc_ids(base)


def test_cli_changes_in_another_process_are_picked_up(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = server
    version = httpx.get(f"{base}/health", headers=AUTH).json()["index_version"]
    article = tmp_path / "quillon.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    added = rag(env, "add", str(article))
    assert added.returncode == 0, added.stderr
    assert "added quillon.txt" in added.stdout
    wait_for(lambda: "quillon.txt" in doc_ids(base), "the server serves the CLI's article")
    assert httpx.get(f"{base}/health", headers=AUTH).json()["index_version"] != version
    listed = json.loads(rag(env, "list", "--json").stdout)
    assert "quillon.txt" in {d["doc_id"] for d in listed}
    removed = rag(env, "remove", "quillon.txt")
    assert removed.returncode == 0, removed.stderr
    wait_for(lambda: "quillon.txt" not in doc_ids(base), "the server drops the removed article")
    assert rag(env, "remove", "quillon.txt").returncode == 2
    missing = rag(env, "add", str(tmp_path / "missing.txt"))
    assert missing.returncode == 2 and "No such file" in missing.stderr


def test_concurrent_adds_while_16_clients_ask(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = server
    stop = time.monotonic() + PATIENCE_S
    adds_done = False
    errors: list[str] = []

    def asker() -> int:
        n = 0
        with httpx.Client(base_url=base, headers=AUTH, timeout=60) as client:
            while not adds_done and time.monotonic() < stop:
                r = client.post("/ask", json={"question": QUESTION})
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                else:  # every citation matches the text the server serves for it
                    for c in r.json()["citations"]:
                        doc = client.get(f"/documents/{c['doc_id']}")
                        if doc.status_code == 200:
                            text = doc.json()["text"]
                            if text[c["start"] : c["end"]] != c["quote"]:
                                errors.append(f"offsets off in {c['doc_id']}")
                n += 1
        return n

    with ThreadPoolExecutor(16) as pool:
        askers = [pool.submit(asker) for _ in range(16)]
        for i, path in enumerate(sorted(CORPUS_DEV.glob("*.txt"))[:4]):
            r = httpx.post(
                f"{base}/documents",
                json={"text": path.read_text(encoding="utf-8"), "doc_id": f"http-{i}.txt"},
                headers=AUTH,
                timeout=120,
            )
            if r.status_code != 201:
                errors.append(f"add {r.status_code} {r.text[:200]}")
        cli_paths = [str(p) for p in sorted(CORPUS_DEV.glob("*.txt"))[4:]]
        cli = rag(env, "add", *cli_paths)
        if cli.returncode != 0:
            errors.append(f"rag add: {cli.stderr}")
        wait_for(lambda: len(doc_ids(base)) == 5 + 8, "all 8 adds served")
        adds_done = True
        asked = sum(f.result() for f in askers)
    assert errors == [] and asked >= 16


def test_kill_9_mid_add_leaves_the_old_or_the_new_state(tmp_path: Path) -> None:
    env = corpus_env(tmp_path)
    assert rag(env, "index").returncode == 0
    before = {d["doc_id"] for d in json.loads(rag(env, "list", "--json").stdout)}
    paths = sorted(CORPUS_DEV.glob("*.txt"))
    after = before | {p.name for p in paths}
    index_dir = tmp_path / "index"
    outcomes = set()
    # Kill at the first sign of each phase: just started, catalog committed, build folder made.
    for when in ("start", "catalog", "build"):
        builds = set(index_dir.glob("build-*"))
        catalog = tmp_path / "library" / "catalog.json"
        stamp = catalog.stat().st_mtime_ns if catalog.exists() else None
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "add", "--replace", *map(str, paths)],
            cwd=PROJECT_ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + PATIENCE_S
        while proc.poll() is None and time.monotonic() < deadline:
            if (
                when == "start"
                or (when == "catalog" and catalog.exists() and catalog.stat().st_mtime_ns != stamp)
                or (when == "build" and set(index_dir.glob("build-*")) - builds)
            ):
                break
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        listed = rag(env, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        state = {d["doc_id"] for d in json.loads(listed.stdout)}
        assert state in (before, after), when
        outcomes.add(frozenset(state))
        asked = rag(env, "ask", "--json", QUESTION)  # loads (catching the index up if needed)
        assert asked.returncode == 0, asked.stderr
        for c in json.loads(asked.stdout)["citations"]:
            assert c["doc_id"] in state
    assert rag(env, "add", "--replace", *map(str, paths)).returncode == 0
    assert {d["doc_id"] for d in json.loads(rag(env, "list", "--json").stdout)} == after


@pytest.mark.slow
def test_real_model_answers_from_an_added_article_then_stops(tmp_path: Path) -> None:
    env = {**corpus_env(tmp_path, backend="onnx"), "RAG_INDEX_AUTHOR_LINES": "true"}
    with running_server(tmp_path / "server.log", env, timeout=600) as base:
        created = httpx.post(
            f"{base}/documents",
            json={"text": ARTICLE, "doc_id": "q.txt"},
            headers=AUTH,
            timeout=120,
        )
        assert created.status_code == 201, created.text
        answer, docs = cited(base)
        assert not answer["abstained"] and docs == {"q.txt"}
        assert "Tallinn" in answer["answer"]
        text = httpx.get(f"{base}/documents/q.txt", headers=AUTH).json()["text"]
        for c in answer["citations"]:
            assert text[c["start"] : c["end"]] == c["quote"]
        httpx.put(
            f"{base}/documents/q.txt", json={"text": UPDATED_ARTICLE}, headers=AUTH, timeout=120
        )
        answer, docs = cited(base)
        assert "Riga" in answer["answer"] and "Tallinn" not in answer["answer"]
        byline = httpx.post(
            f"{base}/ask", json={"question": "Who is Mirela Quast?"}, headers=AUTH
        ).json()
        assert any(c["doc_id"] == "q.txt" for c in byline["citations"])
        assert httpx.delete(f"{base}/documents/q.txt", headers=AUTH, timeout=120).status_code == 204
        answer, docs = cited(base)
        assert "q.txt" not in docs
