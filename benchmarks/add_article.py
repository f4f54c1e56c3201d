"""Time to add one article to a running server until it is answerable.

A real `rag serve` (ONNX model) over the seeds; each corpus-dev article is added in turn, and
for each the clock runs from sending it to the first /ask answer that draws on it:
- over HTTP: POST /documents (the server embeds, annotates, builds and swaps in the new index,
  then answers 201) followed by one /ask;
- from another process: `rag add PATH` in a shell (which loads the model itself) until the
  server, polling CURRENT every RAG_RELOAD_POLL_SECONDS, answers from it.
"Answerable" means the article is among the passages /ask retrieves for a question its text
answers (from eval/corpus-dev/questions.jsonl); whether the answer then cites it is shown too.
Also reports how many chunks each add embedded (only the new article's: incremental build).

Usage: python benchmarks/add_article.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import ROOT, machine_note, save_result, summarise, table

from tests.devserver import running_server

KEY = "bench-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ARTICLES = sorted((ROOT / "eval" / "corpus-dev" / "articles").glob("*.txt"))
QUESTIONS_FILE = ROOT / "eval" / "corpus-dev" / "questions.jsonl"
# d05 has no question of its own in questions.jsonl (its facts are asked across articles).
EXTRA_QUESTIONS = {"d05_5803c34a.txt": "What minimum baseline of military support did allies set?"}


def questions() -> dict[str, str]:
    """The first factoid of questions.jsonl whose evidence is in one article, per article."""
    out = dict(EXTRA_QUESTIONS)
    for line in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        docs = {e["doc"] for e in item.get("evidence", [])}
        if item["answerable"] and len(docs) == 1:
            out.setdefault(docs.pop(), item["question"])
    return out


PATIENCE_S = 300.0


def found(base: str, question: str, doc_id: str) -> tuple[bool, bool]:
    """(retrieved: among the passages, cited: in the answer's citations)."""
    body = httpx.post(f"{base}/ask", json={"question": question}, headers=AUTH, timeout=60).json()
    return (
        any(p["doc_id"] == doc_id for p in body["passages"]),
        any(c["doc_id"] == doc_id for c in body["citations"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two articles per path")
    args = parser.parse_args()
    articles = ARTICLES[:4] if args.quick else ARTICLES
    http_rows, cli_rows = [], []
    asked = questions()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {
            "RAG_SEEDS_DIR": str(ROOT / "seeds"),
            "RAG_INDEX_DIR": str(tmp / "index"),
            "RAG_LIBRARY_DIR": str(tmp / "library"),
            "RAG_EMBED_BACKEND": "onnx",
            "RAG_API_KEY": KEY,
        }
        with running_server(tmp / "server.log", env, timeout=600) as base:
            for i, path in enumerate(articles):
                question = asked[path.name]
                text = path.read_text(encoding="utf-8")
                over_http = i % 2 == 0
                started = time.perf_counter()
                if over_http:
                    r = httpx.post(
                        f"{base}/documents",
                        json={"text": text, "doc_id": path.name},
                        headers=AUTH,
                        timeout=PATIENCE_S,
                    )
                    r.raise_for_status()
                    added = time.perf_counter()
                else:
                    subprocess.run(
                        [sys.executable, "-m", "rag.cli", "add", str(path)],
                        cwd=ROOT,
                        env={**os.environ, **env},
                        check=True,
                        capture_output=True,
                    )
                    added = time.perf_counter()
                deadline = started + PATIENCE_S
                while not (hit := found(base, question, path.name))[0]:
                    if time.perf_counter() > deadline:
                        raise SystemExit(f"{path.name} never retrieved")
                    time.sleep(0.05)
                answerable = time.perf_counter()
                health = httpx.get(f"{base}/health").json()
                embedded = httpx.get(f"{base}/documents/{path.name}", headers=AUTH).json()
                row = {
                    "article": path.name,
                    "chars": len(text),
                    "chunks": embedded["chunk_count"],
                    "write_s": round(added - started, 3),
                    "answerable_s": round(answerable - started, 3),
                    "cited": hit[1],
                    "question": question,
                    "documents": health["documents"],
                }
                (http_rows if over_http else cli_rows).append(row)
    result = {"machine": machine_note(), "http": http_rows, "cli": cli_rows}
    for name, rows in (("POST /documents", http_rows), ("rag add (other process)", cli_rows)):
        print(f"\n{name}")
        print(
            table(
                ["article", "chars", "chunks", "write s", "answerable s", "cited"],
                [
                    [
                        r["article"],
                        r["chars"],
                        r["chunks"],
                        r["write_s"],
                        r["answerable_s"],
                        "yes" if r["cited"] else "retrieved only",
                    ]
                    for r in rows
                ],
            )
        )
        s = summarise([r["answerable_s"] for r in rows])
        print(f"median {s.p50_ms / 1000:.2f} s to answerable (n={len(rows)})")
    print("\n" + machine_note())
    print(f"saved {save_result('add_article', result)}")


if __name__ == "__main__":
    main()
