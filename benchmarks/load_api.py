"""Load test of the HTTP API: `rag serve` (real model) under Locust at several concurrencies.

    .venv/bin/python benchmarks/load_api.py [--duration 20] [--levels 1,8,32]

Steps (everything is started and stopped here, bounded in time, loopback only):
 1. the library alone, in this process: pipeline.ask latency over the same questions;
 2. how to keep concurrent requests safe: a lock around the model call (what the API does),
    a lock around the whole request, or no lock, with 8 threads in this process;
 3. `rag serve` on a free loopback port, then Locust (headless, closed loop) against
    POST /ask at each concurrency: throughput, p50/p95/p99, errors;
 4. HTTP overhead = p50 over HTTP at c=1 minus the library p50, and p99/p50 at c=1.
Targets: overhead <= 2 ms, p99 <= 3 x p50 at c=1, zero errors.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.embed import SerializedEmbedder, load_embedder  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402
from tests.devserver import ServerStartError, running_server  # noqa: E402

BIN = Path(sys.executable).parent


def questions() -> list[str]:
    return [
        json.loads(line)["question"]
        for name in ("dev.jsonl", "own.jsonl")
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Level:
    users: int
    ok: int
    errors: int
    seconds: float
    p50: float
    p95: float
    p99: float

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


# --- 1 and 2: in process --------------------------------------------------------------------


def library_latency(pipeline: Pipeline, qs: list[str], calls: int) -> list[float]:
    for q in qs[:5]:
        pipeline.ask(q)
    out = []
    for i in range(calls):
        t0 = time.perf_counter()
        pipeline.ask(qs[i % len(qs)])
        out.append((time.perf_counter() - t0) * 1000)
    return out


def lock_strategies(
    settings: Settings, qs: list[str], calls: int
) -> list[tuple[str, float, float]]:
    """(strategy, req/s, p50 ms) with 8 threads sharing one pipeline."""
    embedder = load_embedder(settings)
    plain = Pipeline.load(settings, embedder=embedder)
    locked = Pipeline.load(settings, embedder=SerializedEmbedder(embedder))
    request_lock = threading.Lock()

    def whole(q: str) -> object:
        with request_lock:
            return plain.ask(q)

    strategies: list[tuple[str, Callable[[str], object]]] = [
        ("lock around the model call (API)", locked.ask),
        ("lock around the whole request", whole),
        ("no lock (unsafe tokenizer)", plain.ask),
    ]
    rates: dict[str, list[float]] = {name: [] for name, _ in strategies}
    latencies: dict[str, list[float]] = {name: [] for name, _ in strategies}
    for q in qs[:8]:
        plain.ask(q)
        locked.ask(q)
    # Interleaved rounds: other processes on the machine load all strategies alike.
    for _ in range(3):
        for name, ask in strategies:

            def timed(i: int, ask: Callable[[str], object] = ask, name: str = name) -> None:
                t0 = time.perf_counter()
                ask(qs[i % len(qs)])
                latencies[name].append((time.perf_counter() - t0) * 1000)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(timed, range(calls // 3)))
            rates[name].append((calls // 3) / (time.perf_counter() - t0))
    return [
        (name, statistics.median(rates[name]), statistics.median(latencies[name]))
        for name, _ in strategies
    ]


# --- 3: server and Locust -------------------------------------------------------------------


def run_locust(base: str, users: int, duration: int, workdir: Path) -> Level:
    out = workdir / f"latencies-{users}.txt"
    env = {**os.environ, "LOAD_API_OUT": str(out)}
    key = os.environ.get("RAG_API_KEY")
    if key:
        env["LOAD_API_KEY"] = key
    cmd = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "benchmarks" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{duration}s",
        "--stop-timeout",
        "10",
        "--host",
        base,
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    log_path = workdir / f"locust-{users}.log"
    with open(log_path, "wb") as log:
        # Bounded: Locust stops itself after --run-time; the timeout is a safety net.
        result = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                timeout=duration + 60, check=False)  # fmt: skip
    if not out.exists():
        raise SystemExit(f"locust wrote no results (exit {result.returncode}):\n"
                         f"{log_path.read_text()[-3000:]}")  # fmt: skip
    rows = [line.split() for line in out.read_text().splitlines() if line.strip()]
    ends = [float(r[0]) for r in rows]
    latencies = [float(r[1]) for r in rows if r[2] == "1"]
    errors = sum(1 for r in rows if r[2] != "1")
    starts = [end - float(r[1]) / 1000 for end, r in zip(ends, rows, strict=True)]
    seconds = max(ends) - min(starts) if rows else 0.0
    return Level(
        users=users,
        ok=len(latencies),
        errors=errors,
        seconds=seconds,
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per level")
    parser.add_argument("--levels", default="1,8,32", help="concurrent users per level")
    parser.add_argument("--library-calls", type=int, default=300)
    parser.add_argument("--lock-calls", type=int, default=240)
    parser.add_argument("--http-only", action="store_true", help="skip steps 1 and 2")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    qs = questions()
    started = time.perf_counter()
    print(f"{len(qs)} questions from eval/dev.jsonl + eval/own.jsonl, {os.cpu_count()} CPUs")

    lib_p50: float | None = None
    if not args.http_only:
        settings = Settings()
        pipeline = Pipeline.load(settings)
        lib = library_latency(pipeline, qs, args.library_calls)
        lib_p50 = statistics.median(lib)
        print(f"\nlibrary pipeline.ask, in process ({len(lib)} calls): p50 {lib_p50:.2f} ms, "
              f"p95 {percentile(lib, 95):.2f} ms, p99 {percentile(lib, 99):.2f} ms")  # fmt: skip
        print(f"\nconcurrency safety, 8 threads in process ({args.lock_calls} calls each, "
              "median of 3 interleaved rounds):")  # fmt: skip
        for name, rps, p50 in lock_strategies(settings, qs, args.lock_calls):
            print(f"  {name:36s} {rps:6.1f} req/s   p50 {p50:6.1f} ms")
        del pipeline
        gc.collect()

    results: list[Level] = []
    with tempfile.TemporaryDirectory(prefix="load-api-") as tmp:
        workdir = Path(tmp)
        with running_server(workdir / "server.log", timeout=180) as base:
            print(f"\nrag serve on {base}; locust, closed loop, {args.duration} s per level")
            print(f"{'users':>5} {'ok':>6} {'errors':>6} {'req/s':>8} "
                  f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")  # fmt: skip
            for users in levels:
                level = run_locust(base, users, args.duration, workdir)
                results.append(level)
                print(f"{level.users:5d} {level.ok:6d} {level.errors:6d} "
                      f"{level.throughput:8.1f} {level.p50:8.2f} {level.p95:8.2f} "
                      f"{level.p99:8.2f}")  # fmt: skip

    first = next((r for r in results if r.users == 1), None)
    total_errors = sum(r.errors for r in results)
    print()
    if first is not None:
        ratio = first.p99 / first.p50
        print(f"p99/p50 at c=1: {ratio:.2f} (target <= 3: {'met' if ratio <= 3 else 'NOT met'})")
    if first is not None and lib_p50 is not None:
        overhead = first.p50 - lib_p50
        print(f"HTTP overhead at c=1 (p50 HTTP - p50 library): {overhead:.2f} ms "
              f"(target <= 2 ms: {'met' if overhead <= 2 else 'NOT met'})")  # fmt: skip
    print(f"errors: {total_errors} (target 0: {'met' if total_errors == 0 else 'NOT met'})")
    print(f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except ServerStartError as exc:
        raise SystemExit(f"load_api: {exc}") from None
