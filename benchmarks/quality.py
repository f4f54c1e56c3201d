"""Quality gate for the fast backends: does ONNX (fp32 / int8) keep torch fp32's figures?

Per backend, in its own process: Pipeline.load(Settings(embed_backend=...)) over the seed
corpus, scored with rag.eval on eval/dev.jsonl and eval/own.jsonl (recall@5, answer
accuracy, citations, abstention). Then against torch fp32:
  * top-10 neighbour overlap on real queries (the eval questions, dense search over the
    seed sentences, each backend with its own vectors) and overlap of the final top-5 passages;
  * cosine between each backend's embedding and torch's for the same text (queries, seed
    sentences, and the ingest benchmark's docstring passages if that ran).
Gate: a variant may become the default only if recall@5 and answer figures are within 1 point.

Usage: python benchmarks/quality.py [--backends torch,onnx,onnx-int8]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BACKENDS,
    CACHE,
    EVAL_SETS,
    bench_settings,
    eval_questions,
    prepare_indexes,
    run_json,
    save_result,
    table,
)

METRICS = (
    "recall_at_5",
    "mrr",
    "answer_accuracy",
    "citation_recall",
    "citation_precision",
    "abstention_recall",
    "false_abstention",
)
GATED = ("recall_at_5", "answer_accuracy", "citation_recall", "abstention_recall")


def worker(backend: str) -> dict[str, Any]:
    from rag.eval import PipelineSystem, evaluate, load_dataset
    from rag.pipeline import Pipeline

    pipeline = Pipeline.load(bench_settings(backend))
    figures: dict[str, dict[str, float | None]] = {}
    for path in EVAL_SETS:
        report = evaluate(PipelineSystem(pipeline), load_dataset(path))
        figures[path.stem] = {m: getattr(report, m) for m in METRICS}
    questions = eval_questions()
    qvecs = pipeline.embedder.encode(questions)
    _, top10 = pipeline.index.sentence_index.search(qvecs, 10)
    top5 = [[p.chunk_id for p in pipeline.search(q, 5)] for q in questions]
    np.save(CACHE / f"quality-queries-{backend}.npy", qvecs)
    np.save(CACHE / f"quality-sentences-{backend}.npy", pipeline.index.sentence_vectors)
    return {
        "backend": backend,
        "figures": figures,
        "top10_sentences": top10.tolist(),
        "top5_passages": top5,
    }


def _cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    diff = 1.0 - (a * b).sum(axis=1)
    return {
        "n": len(a),
        "min_cos": round(float(1 - diff.max()), 5),
        "mean_cos": round(float(1 - diff.mean()), 5),
        "max_diff": round(float(diff.max()), 5),
        "mean_diff": round(float(diff.mean()), 6),
    }


def _overlap(a: list[list[int]], b: list[list[int]], k: int) -> float:
    return float(np.mean([len(set(x[:k]) & set(y[:k])) / k for x, y in zip(a, b, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--quick", action="store_true", help="accepted for run_all; no effect")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if backends[0] != "torch":
        backends = ["torch", *[b for b in backends if b != "torch"]]
    prepare_indexes(backends)
    results = {b: run_json([__file__, "--worker", b]) for b in backends}
    ref = results["torch"]

    print("\n## Quality gate: eval figures per backend (difference from torch fp32 in points)\n")
    rows = []
    verdict: dict[str, bool] = {}
    for b in backends:
        ok = True
        for split, figs in results[b]["figures"].items():
            cells = [b, split]
            for m in METRICS:
                value, base = figs[m], ref["figures"][split][m]
                if value is None or base is None:
                    cells.append("-")
                    continue
                delta = (value - base) * 100
                # false_abstention: lower is better; the others higher is better
                worse = delta > 1.0 if m == "false_abstention" else delta < -1.0
                if m in (*GATED, "false_abstention") and worse:
                    ok = False
                cells.append(f"{value:.3f} ({delta:+.1f})" if b != "torch" else f"{value:.3f}")
            rows.append(cells)
        verdict[b] = ok
    print(table(["backend", "set", *METRICS], rows))

    print("\n## Agreement with torch fp32\n")
    rows = []
    agreement: dict[str, Any] = {}
    extra = CACHE / "ingest-vectors-torch.npy"
    for b in backends[1:]:
        q = _cosines(
            np.load(CACHE / f"quality-queries-{b}.npy"),
            np.load(CACHE / "quality-queries-torch.npy"),
        )
        s = _cosines(
            np.load(CACHE / f"quality-sentences-{b}.npy"),
            np.load(CACHE / "quality-sentences-torch.npy"),
        )
        other = CACHE / f"ingest-vectors-{b}.npy"
        p = (
            _cosines(np.load(other), np.load(extra))
            if other.is_file() and extra.is_file()
            else None
        )
        agreement[b] = {
            "top10_sentence_overlap": round(
                _overlap(results[b]["top10_sentences"], ref["top10_sentences"], 10), 4
            ),
            "top5_passage_overlap": round(
                _overlap(results[b]["top5_passages"], ref["top5_passages"], 5), 4
            ),
            "queries": q,
            "seed_sentences": s,
            "docstring_passages": p,
        }
        a = agreement[b]
        rows.append(
            [
                b,
                f"{a['top10_sentence_overlap']:.3f}",
                f"{a['top5_passage_overlap']:.3f}",
                f"{q['mean_cos']:.5f} / {q['min_cos']:.5f}",
                f"{s['mean_cos']:.5f} / {s['min_cos']:.5f}",
                f"{p['mean_cos']:.5f} / {p['min_cos']:.5f}" if p else "-",
            ]
        )
    print(
        table(
            [
                "backend",
                f"top-10 neighbour overlap ({len(eval_questions())} questions)",
                "top-5 passage overlap",
                "cosine mean / min: questions",
                "seed sentences",
                "docstring passages",
            ],
            rows,
        )
    )
    print("\nGate (recall@5, answer accuracy, citation recall, abstention within 1 point):")
    for b in backends[1:]:
        print(f"  {b}: {'passes' if verdict[b] else 'FAILS'}")
    save_result("quality", {"results": results, "agreement": agreement, "gate": verdict})


if __name__ == "__main__":
    main()
