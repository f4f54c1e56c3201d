"""Warm `POST /ask` over HTTP: the full system against the stock LangChain pipeline, both
served the same way.

The full system is `rag serve` (uvicorn, one worker, no access log). The baseline is the
pipeline `rag eval --compare` calls `langchain` (RecursiveCharacterTextSplitter(1000/200) +
LangChain's FAISS store over the same MiniLM model and backend, the top chunk as the answer),
behind a FastAPI `POST /ask` run by uvicorn with the same settings (`--serve-langchain`).
Both load before timing; each question goes to both servers, first one then the other in
turn, so both see the same machine noise. One client, one request at a time, keep-alive:
the latency a user of an idle service sees. The client runs on the same 2 cores as the
servers.

Usage: python benchmarks/http_vs_langchain.py [--rounds 5] [--quick] [--backend onnx]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    PYTHON,
    ROOT,
    bench_env,
    bench_settings,
    eval_questions,
    machine_note,
    prepare_indexes,
    save_result,
    summarise,
    table,
)

from tests.devserver import running_server_process, running_service

# The target in issue 10: warm /ask p50 at most this share of the LangChain pipeline's.
TARGET_RATIO = 0.5


class AskRequest(BaseModel):
    """The baseline's request body (module level: FastAPI resolves the annotation by name)."""

    question: str


def serve_langchain(port: int, backend: str) -> None:
    """The baseline as a service: the same pipeline `rag eval --compare` runs in process."""
    import uvicorn
    from fastapi import FastAPI

    from rag.eval.baselines import LangChainSystem
    from rag.eval.dataset import EvalItem
    from rag.pipeline import Pipeline

    pipeline = Pipeline.load(bench_settings(backend))
    system = LangChainSystem(list(pipeline.index.documents.values()), pipeline.embedder)

    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/ask")
    def ask(request: AskRequest) -> dict[str, object]:
        out = system.run(EvalItem(id="q", question=request.question, answerable=True))
        return {
            "answer": out.answer,
            "citations": [c.model_dump() for c in out.citations],
        }

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--serve-langchain", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_langchain is not None:
        serve_langchain(args.serve_langchain, args.backend)
        return

    if args.quick:
        args.rounds = 2
    prepare_indexes([args.backend])
    questions = eval_questions()
    logs = ROOT / "build" / "bench-results"
    logs.mkdir(parents=True, exist_ok=True)
    env: dict[str, str | None] = {**bench_env(args.backend), "RAG_API_KEY": None}

    def langchain(port: int) -> list[str]:
        return [PYTHON, __file__, "--serve-langchain", str(port), "--backend", args.backend]

    with (
        running_service(langchain, logs / "langchain-server.log", env, name="LangChain") as lc,
        running_server_process(logs / "rag-server.log", env) as ours,
        httpx.Client(timeout=30) as client,
    ):
        urls = {"full system (rag serve)": ours.url, "LangChain (same serving)": lc.url}
        seconds: dict[str, list[float]] = {name: [] for name in urls}
        # Warm-up round: also keeps only questions both accept (ours refuses some, such as
        # a bare "?", with a 4xx that would time an error, not an answer).
        accepted = [
            q
            for q in questions
            if all(
                client.post(f"{url}/ask", json={"question": q}).status_code == 200
                for url in urls.values()
            )
        ]
        if not accepted:
            raise RuntimeError("neither server answered any question: see their logs")
        order = list(urls.items())
        for _ in range(args.rounds):
            for k, question in enumerate(accepted):
                # each server goes first on every other question: no order bias
                for name, url in order if k % 2 == 0 else order[::-1]:
                    t0 = time.perf_counter()
                    response = client.post(f"{url}/ask", json={"question": question})
                    elapsed = time.perf_counter() - t0
                    response.raise_for_status()
                    seconds[name].append(elapsed)

    summaries = {name: summarise(values) for name, values in seconds.items()}
    ours_p50 = summaries["full system (rag serve)"].p50_ms
    theirs_p50 = summaries["LangChain (same serving)"].p50_ms
    ratio = ours_p50 / theirs_p50
    print(machine_note())
    print(
        table(
            ("server", "requests", "p50 ms", "p95 ms", "mean ms"),
            [(name, s.n, *s.cells(), f"{s.mean_ms:.2f}") for name, s in summaries.items()],
        )
    )
    verdict = "met" if ratio <= TARGET_RATIO else "not met"
    print(f"p50 ratio, full system / LangChain: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    save_result(
        "http_vs_langchain",
        {
            "backend": args.backend,
            "rounds": args.rounds,
            "questions": len(accepted),
            "refused": sorted(set(questions) - set(accepted)),
            "summaries": {name: vars(s) for name, s in summaries.items()},
            "p50_ratio": ratio,
            "target_ratio": TARGET_RATIO,
        },
    )


if __name__ == "__main__":
    main()
