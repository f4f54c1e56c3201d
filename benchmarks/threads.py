"""Thread counts: 1 vs 2 intra-op threads for a single query and for a batch of 32 passages,
per backend, and FAISS OpenMP threads for single-query search (1 vs 2).

Each (backend, threads) pair runs in its own process: torch's thread pool is process-wide.

Usage: python benchmarks/threads.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    eval_questions,
    machine_note,
    real_vectors,
    run_json,
    save_result,
    summarise,
    table,
    time_calls,
)


def worker(backend: str, threads: int, rounds: int) -> dict[str, Any]:
    from rag.embed import packaged_model_path
    from rag.embed.onnx_runtime import OnnxEmbedder
    from rag.embed.torch_backend import SentenceTransformerEmbedder

    path = packaged_model_path()
    embedder: Any
    if backend == "torch":
        embedder = SentenceTransformerEmbedder.load(path, "m", threads=threads)
    else:
        from rag.settings import Settings

        embedder = OnnxEmbedder.from_model_dir(
            path,
            "m",
            quantized=backend == "onnx-int8",
            cache_dir=Settings().onnx_dir,
            threads=threads,
            batch_threads=threads,
        )
    questions = eval_questions()
    _, texts = real_vectors(22_000, log=lambda s: print(s, file=sys.stderr))
    batch = texts[:32]
    single = []
    for _ in range(rounds):
        for q in questions:
            single += time_calls(lambda q=q: embedder.encode([q]), repeat=1, warmup=0)
    batches = time_calls(lambda: embedder.encode(batch, batch_size=32), repeat=rounds * 3)
    return {
        "backend": backend,
        "threads": threads,
        "query": summarise(single).__dict__,
        "batch32": summarise(batches).__dict__,
    }


def faiss_worker(rounds: int) -> dict[str, Any]:
    import faiss
    import numpy as np

    vectors, _ = real_vectors(22_000)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors[:20_000])
    queries = vectors[20_000:20_300]
    out = {}
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        samples: list[float] = []
        for _ in range(rounds):
            for q in queries:
                samples += time_calls(
                    lambda q=q: index.search(np.ascontiguousarray(q.reshape(1, -1)), 20),
                    repeat=1,
                    warmup=0,
                )
        out[str(threads)] = summarise(samples).__dict__
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    if args.worker == "faiss":
        print(json.dumps(faiss_worker(rounds)))
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads, rounds)))
        return
    results = [
        run_json([__file__, "--worker", b, "--threads", str(t), "--rounds", str(rounds)])
        for b in ("torch", "onnx", "onnx-int8")
        for t in (1, 2)
    ]
    faiss_result = run_json([__file__, "--worker", "faiss", "--rounds", str(rounds)])
    print(f"\n## Threads: encoder intra-op threads, 1 vs 2; {machine_note()}\n")
    print(
        table(
            ["backend", "threads", "single query p50 / p95 ms", "batch of 32 p50 / p95 ms"],
            [
                [
                    r["backend"],
                    r["threads"],
                    f"{r['query']['p50_ms']:.2f} / {r['query']['p95_ms']:.2f}",
                    f"{r['batch32']['p50_ms']:.1f} / {r['batch32']['p95_ms']:.1f}",
                ]
                for r in results
            ],
        )
    )
    print(
        "\nFAISS exact search over 20,000 real vectors, one query, k=20: "
        + ", ".join(
            f"{t} thread(s) p50 {v['p50_ms']:.3f} ms / p95 {v['p95_ms']:.3f} ms"
            for t, v in faiss_result.items()
        )
    )
    save_result("threads", {"encoders": results, "faiss": faiss_result})


if __name__ == "__main__":
    main()
