"""Every benchmark, in one command (`make bench`); `--quick` for a shorter run.

Runs, each in its own process, and prints their Markdown tables:
  query_path  (a) stage-by-stage query latency and (d) serving memory, per backend
  http_vs_langchain  warm POST /ask over HTTP: rag serve against the LangChain baseline served alike
  ingest      (b) chunks/s of our build path vs a bare SentenceTransformer.encode
  cold_start  (c) fresh `rag ask` process to first answer
  threads     1 vs 2 intra-op threads for encoders, 1 vs 2 OpenMP threads for FAISS
  quality     ONNX fp32/int8 vs torch fp32 on eval/dev.jsonl + eval/own.jsonl
  scale       (e) 1e4 / 1e5 (/ 1e6 without --quick) passages per index type
  workers     rag serve at 1, 8, 32 clients with 1 and 2 workers, FAISS and pgvector
  pg_scale    PostgreSQL + pgvector HNSW at 1e5 (/ 1e6 without --quick), beside FAISS HNSW

The first run exports the ONNX graphs (models/onnx/) and embeds ~22,000 docstring passages
once (build/bench-cache/); later runs reuse both. JSON results land in build/bench-results/.
A full run takes about 75 minutes on 2 cores (most of it building HNSW over 1e6 vectors,
in FAISS and in pgvector: pg_scale alone took 51 min); --quick about 15.

Usage: python benchmarks/run_all.py [--quick] [--only query_path,scale]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, machine_note, prepare_indexes, real_vectors

SCRIPTS = (
    "query_path",
    "http_vs_langchain",
    "ingest",
    "cold_start",
    "threads",
    "quality",
    "scale",
    "workers",
    "pg_scale",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs; scale stops at 1e5")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {SCRIPTS}")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",")] if args.only else list(SCRIPTS)
    unknown = sorted(set(chosen) - set(SCRIPTS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {SCRIPTS}")

    started = time.perf_counter()
    print(f"# Benchmarks{' (quick)' if args.quick else ''}: {machine_note()}", flush=True)
    # Shared one-off work first, so no benchmark's timing includes it.
    prepare_indexes(("torch", "onnx", "onnx-int8"))
    real_vectors(22_000)
    failed = []
    for name in chosen:
        t0 = time.perf_counter()
        print(f"\n--- {name} ---", flush=True)
        cmd = [PYTHON, str(ROOT / "benchmarks" / f"{name}.py")] + (
            ["--quick"] if args.quick else []
        )
        if subprocess.run(cmd, cwd=ROOT, check=False).returncode != 0:
            failed.append(name)
        print(f"({name}: {time.perf_counter() - t0:.0f} s)", flush=True)
    print(
        f"\nall benchmarks: {time.perf_counter() - started:.0f} s; results in build/bench-results/"
    )
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
