"""(a) The query path stage by stage, and (d) serving memory, per embedding backend.

Each backend runs in its own process (`--worker BACKEND`) so thread settings, imports and the
RSS high-water mark belong to that backend alone. The index is built beforehand, so the
worker only loads, like a server that restarts. Stages mirror HybridRetriever.retrieve:

  repair     spelling repair of the question (rapidfuzz over the corpus vocabulary)
  embed      query embedding (the backend under test)
  dense      FAISS search over chunk vectors
  sentences  FAISS search over sentence vectors, mapped to chunks
  bm25       BM25 over chunks
  fusion     reciprocal rank fusion + near-duplicate collapse
  analyze    question analysis (spaCy parse of the repaired question)
  answer     learned answer stage (candidate features, the model's heads, citations)
  ask        pipeline.ask end to end (retrieve + analyze + answer), the figure a user sees

Usage: python benchmarks/query_path.py [--quick] [--backends torch,onnx,onnx-int8]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BACKENDS,
    bench_settings,
    eval_questions,
    machine_note,
    prepare_indexes,
    rss_now_mb,
    rss_peak_mb,
    run_json,
    save_result,
    summarise,
    table,
)

STAGES = ("repair", "embed", "dense", "sentences", "bm25", "fusion", "analyze", "answer", "ask")


def worker(backend: str, rounds: int) -> dict[str, Any]:
    import faiss

    from rag.pipeline import Pipeline
    from rag.retrieve import reciprocal_rank_fusion
    from rag.retrieve.dedup import collapse
    from rag.retrieve.spelling import repair

    rss_start = rss_now_mb()
    t0 = time.perf_counter()
    pipeline = Pipeline.load(bench_settings(backend))
    load_s = time.perf_counter() - t0
    rss_loaded = rss_now_mb()
    retriever, settings = pipeline.retriever, pipeline.settings
    questions = eval_questions()
    depth = max(settings.candidate_k, settings.top_k * 2)
    times: dict[str, list[float]] = {s: [] for s in STAGES}

    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = fn()
        times[stage].append(time.perf_counter() - t)
        return out

    for q in questions[:5]:  # warm-up: first calls allocate
        pipeline.ask(q)
    for _ in range(rounds):
        for q in questions:
            repaired = timed("repair", lambda q=q: repair(q, retriever.lexicon))
            vector = timed("embed", lambda r=repaired: retriever.embed_query(r))
            dense, _ = timed("dense", lambda v=vector: retriever.dense_ranking(v, depth))
            by_sentence = timed("sentences", lambda v=vector: retriever.sentence_ranking(v, depth))
            lexical = timed("bm25", lambda r=repaired: retriever.bm25_ranking(r, depth))
            timed(
                "fusion",
                lambda d=dense, s=by_sentence, b=lexical: collapse(
                    reciprocal_rank_fusion([d, s, b], settings.rrf_k),
                    retriever.chunks,
                    retriever._terms,
                    settings.top_k,
                ),
            )
            retrieval = retriever.retrieve(q, max(settings.top_k, settings.answer_k))
            retrieval.analysis = timed(
                "analyze", lambda r=retrieval: pipeline.analyzer.question(r.query)
            )
            timed("answer", lambda q=q, r=retrieval: pipeline.answerer.answer(q, r))
            timed("ask", lambda q=q: pipeline.ask(q))

    # FAISS threads for one query: the retriever pins 1; compare with 2 on the same searches.
    faiss_threads: dict[str, float] = {}
    vectors = [retriever.embed_query(q) for q in questions]
    for n_threads in (1, 2):
        faiss.omp_set_num_threads(n_threads)
        samples = []
        for _ in range(rounds):
            for v in vectors:
                t = time.perf_counter()
                retriever.dense_ranking(v, depth)
                retriever.sentence_ranking(v, depth)
                samples.append(time.perf_counter() - t)
        faiss_threads[str(n_threads)] = summarise(samples).p50_ms
    faiss.omp_set_num_threads(1)

    return {
        "backend": backend,
        "questions": len(questions),
        "rounds": rounds,
        "load_s": round(load_s, 3),
        "stages": {s: summarise(v).__dict__ for s, v in times.items()},
        "faiss_search_p50_ms_by_threads": faiss_threads,
        "rss_mb": {
            "start": round(rss_start, 1),
            "after_load": round(rss_loaded, 1),
            "peak": round(rss_peak_mb(), 1),
        },
        "chunks": len(pipeline.index.chunks),
        "sentences": len(pipeline.index.sentences),
        "index_type": pipeline.index.manifest["index"]["type"],
        "modules": sorted(m for m in ("torch", "sentence_transformers") if m in sys.modules),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 6)
    if args.worker:
        print(json.dumps(worker(args.worker, rounds)))
        return
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    prepare_indexes(backends)
    results = [run_json([__file__, "--worker", b, "--rounds", str(rounds)]) for b in backends]
    n = results[0]["questions"] * rounds
    print(
        f"\n## (a) Query path, seed corpus ({results[0]['chunks']} chunks, "
        f"{results[0]['sentences']} sentences, {results[0]['index_type']}); "
        f"{n} questions per backend; {machine_note()}\n"
    )
    header = ["stage"] + [f"{r['backend']} p50 / p95 ms" for r in results]
    rows = [
        [s] + [f"{r['stages'][s]['p50_ms']:.2f} / {r['stages'][s]['p95_ms']:.2f}" for r in results]
        for s in STAGES
    ]
    print(table(header, rows))
    base = results[0]["stages"]["ask"]["p50_ms"]
    print(
        "\nend-to-end ask p50 relative to "
        + results[0]["backend"]
        + ": "
        + ", ".join(f"{r['backend']} {r['stages']['ask']['p50_ms'] / base:.2f}x" for r in results)
    )
    print(
        "\nFAISS searches (chunks + sentences) for one query, p50 ms by OpenMP threads: "
        + "; ".join(
            f"{r['backend']}: 1 thread {r['faiss_search_p50_ms_by_threads']['1']:.3f}, "
            f"2 threads {r['faiss_search_p50_ms_by_threads']['2']:.3f}"
            for r in results[:1]
        )
    )
    print(f"\n## (d) Serving memory (RSS, MB: load the pipeline, answer {n} questions)\n")
    print(
        table(
            [
                "backend",
                "RSS at start",
                "after load",
                "peak (high-water)",
                "load s",
                "torch imported",
            ],
            [
                [
                    r["backend"],
                    r["rss_mb"]["start"],
                    r["rss_mb"]["after_load"],
                    r["rss_mb"]["peak"],
                    r["load_s"],
                    "yes" if "torch" in r["modules"] else "no",
                ]
                for r in results
            ],
        )
    )
    save_result("query_path", results)


if __name__ == "__main__":
    main()
