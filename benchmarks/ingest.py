"""(b) Ingest throughput: our build path against a bare SentenceTransformer.encode.

"Ours" is exactly what rag.store.build_index runs on chunk texts:
rag.store.records.encode_texts (length-sorted slices of settings.embed_batch_size through the
Embedder from rag.embed.load_embedder). "Bare" is SentenceTransformer.encode(texts,
batch_size=32) on the same texts. Texts are real passages (Python docstrings, see
common.stdlib_passages), a few thousand, so the number is stable. Two variants are measured
too: slices sorted longest first, and that plus torch threads = cores while indexing.

Workers (one process each, so thread settings do not leak):
  torch        bare and ours, interleaved, same process => the threads our embedder set
  bare-default bare encode with torch's default thread count (what a plain script gets)
  onnx, onnx-int8  ours with the ONNX backends

Usage: python benchmarks/ingest.py [--quick] [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CACHE,
    bench_settings,
    machine_note,
    real_vectors,
    run_json,
    save_result,
    table,
)


def _texts(n: int) -> list[str]:
    _, texts = real_vectors(22_000, log=lambda s: print(s, file=sys.stderr))
    return texts[:n]


def sorted_encode(embedder: Any, texts: list[str], settings: Any) -> np.ndarray:
    """A variant of rag.store.records.encode_texts: the same slices of embed_batch_size, but
    longest text first across the whole list, as SentenceTransformer.encode sorts
    inside one call, where encode_texts sorts shortest first."""
    batch = settings.embed_batch_size
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for i in range(0, len(order), batch):
        rows = order[i : i + batch]
        out[rows] = embedder.encode([texts[j] for j in rows], batch_size=batch)
    return out


def worker(kind: str, n: int, rounds: int) -> dict[str, Any]:
    from rag.embed import load_embedder, packaged_model_path
    from rag.progress import LogReporter
    from rag.store.records import encode_texts

    quiet = LogReporter()  # progress calls are no-ops: nothing but the encoding is timed
    texts = _texts(n)
    out: dict[str, Any] = {"kind": kind, "texts": n, "rounds": rounds}
    rates: dict[str, list[float]] = {}

    def measure(label: str, fn: Any) -> Any:
        t = time.perf_counter()
        result = fn()
        rates.setdefault(label, []).append(n / (time.perf_counter() - t))
        return result

    if kind == "bare-default":
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(packaged_model_path()), device="cpu")
        out["torch_threads"] = torch.get_num_threads()
        model.encode(texts[:64], batch_size=32)
        for _ in range(rounds):
            measure("bare", lambda: model.encode(texts, batch_size=32))
        out["per_s"] = {k: float(np.median(v)) for k, v in rates.items()}
        return out

    settings = bench_settings(kind)
    embedder = load_embedder(settings)
    encode_texts(embedder, texts[:64], settings, "warm-up", quiet)
    bare_model = getattr(embedder, "_model", None)  # the SentenceTransformer inside, if torch
    vectors = None
    for _ in range(rounds):
        if bare_model is not None:
            import torch

            out["torch_threads"] = torch.get_num_threads()
            measure("bare", lambda: bare_model.encode(texts, batch_size=32))
        vectors = measure("ours", lambda: encode_texts(embedder, texts, settings, "chunks", quiet))
        measure("ours, sorted", lambda: sorted_encode(embedder, texts, settings))
        if bare_model is not None:  # variant: batches on every core, queries on one
            threads = torch.get_num_threads()
            torch.set_num_threads(os.cpu_count() or 1)
            measure("ours, sorted, all cores", lambda: sorted_encode(embedder, texts, settings))
            torch.set_num_threads(threads)
    out["per_s"] = {k: float(np.median(v)) for k, v in rates.items()}
    assert vectors is not None
    np.save(CACHE / f"ingest-vectors-{kind}.npy", vectors)  # for quality.py's cosine figures
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer texts, one round")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    n = args.n or (600 if args.quick else 2000)
    rounds = args.rounds or 1
    if args.worker:
        print(json.dumps(worker(args.worker, n, rounds)))
        return
    _texts(n)  # embeds and caches the corpus once, before anything is timed
    kinds = ["torch", "bare-default", "onnx", "onnx-int8"]
    results = {
        k: run_json([__file__, "--worker", k, "--n", str(n), "--rounds", str(rounds)])
        for k in kinds
    }
    bare_same = results["torch"]["per_s"]["bare"]
    bare_default = results["bare-default"]["per_s"]["bare"]
    same_threads = results["torch"]["torch_threads"]
    rows = []
    for kind, label, note in [
        ("torch", "bare", f"torch, {same_threads} thread(s) as our embedder sets"),
        (
            "bare-default",
            "bare",
            f"torch default, {results['bare-default']['torch_threads']} threads",
        ),
        ("torch", "ours", "torch backend"),
        ("torch", "ours, sorted", "torch backend"),
        ("torch", "ours, sorted, all cores", "torch backend"),
        ("onnx", "ours", "onnx"),
        ("onnx", "ours, sorted", "onnx"),
        ("onnx-int8", "ours", "onnx-int8"),
        ("onnx-int8", "ours, sorted", "onnx-int8"),
    ]:
        rate = results[kind]["per_s"][label]
        path = {
            "bare": "bare SentenceTransformer.encode(texts, batch_size=32)",
            "ours": "ours: rag.store.records.encode_texts (build_index's path)",
            "ours, sorted": "variant: slices sorted longest first",
            "ours, sorted, all cores": "variant + torch threads = cores while indexing",
        }[label]
        rows.append(
            [path, note, f"{rate:.1f}", f"{rate / bare_same:.2f}", f"{rate / bare_default:.2f}"]
        )
    print(f"\n## (b) Ingest throughput: {n} real passages, median of {rounds}; {machine_note()}\n")
    print(
        table(
            [
                "path",
                "backend / threads",
                "passages/s",
                f"ratio vs bare ({same_threads} thread)",
                "ratio vs bare (default threads)",
            ],
            rows,
        )
    )
    ratio = results["torch"]["per_s"]["ours"] / bare_default
    print(
        f"\ntarget: ours/bare >= 0.9 -> torch backend today {ratio:.2f} (vs a default bare encode)"
    )
    save_result("ingest", results)


if __name__ == "__main__":
    main()
