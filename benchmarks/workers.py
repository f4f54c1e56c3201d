"""Throughput and latency of `rag serve` (real model) by store and worker count, in one run.

    .venv/bin/python benchmarks/workers.py [--duration 20] [--levels 1,8,32] [--workers 1,2]
        [--stores faiss,pgvector] [--quick]

For each store (faiss: the index files loaded by every worker; pgvector: one PostgreSQL 16 +
pgvector from the pgserver package, shared by every worker) and each worker count, start
`rag serve --workers N` on a free loopback port, then Locust (headless, closed loop, the
questions of eval/dev.jsonl + eval/own.jsonl, benchmarks/locustfile.py) against POST /ask at
each concurrency: requests/s, p50/p95 latency, errors. Memory: the resident and the
proportional set size (PSS counts pages shared between workers once, split among them) of
each serving process after the run (the index is built beforehand by `rag index`, so every
server loads it); for pgvector, also the PostgreSQL processes'.

Everything is started and stopped here, bounded in time, loopback only. On 2 cores, the
load generator (Locust) competes with the server for the CPU: the figures are what this
machine can do with both on it, not the server alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine_note, save_result, table  # noqa: E402
from load_api import run_locust  # noqa: E402

from tests.devserver import running_server_process  # noqa: E402


@dataclass
class Row:
    store: str
    workers: int
    users: int
    ok: int
    errors: int
    req_per_s: float
    p50_ms: float
    p95_ms: float


def serving_memory(pid: int) -> list[tuple[float, float]]:
    """(RSS MiB, PSS MiB) of each process that answers requests: the workers under
    uvicorn's supervisor, or the one process when there is a single worker."""
    parent = psutil.Process(pid)
    workers = [p for p in parent.children(recursive=True) if "multiprocessing" not in p.name()]
    procs = [p for p in workers if _is_python(p)] or [parent]
    out = []
    for proc in procs:
        info = proc.memory_full_info()
        out.append((info.rss / 2**20, getattr(info, "pss", info.rss) / 2**20))
    return out


def _is_python(proc: psutil.Process) -> bool:
    try:
        return "python" in proc.name() and "resource_tracker" not in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def build_index(env: dict[str, str | None]) -> None:
    child = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    subprocess.run(
        [str(Path(sys.executable).parent / "rag"), "index"],
        env=child,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )


def postgres_memory() -> float:
    """PSS MiB of the PostgreSQL server and its backends."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] and proc.info["name"].startswith("postgres"):
                info = proc.memory_full_info()
                total += getattr(info, "pss", info.rss) / 2**20
        except psutil.Error:
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per level")
    parser.add_argument("--levels", default="1,8,32", help="concurrent users per level")
    parser.add_argument("--workers", default="1,2", help="worker counts")
    parser.add_argument("--stores", default="faiss,pgvector")
    parser.add_argument("--quick", action="store_true", help="8 s per level")
    args = parser.parse_args()
    if args.quick:
        args.duration = 8
    levels = [int(x) for x in args.levels.split(",")]
    worker_counts = [int(x) for x in args.workers.split(",")]
    stores = args.stores.split(",")
    started = time.perf_counter()
    rows: list[Row] = []
    memory: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="workers-bench-") as tmp:
        workdir = Path(tmp)
        server = None
        url = None
        if "pgvector" in stores:
            import pgserver

            server = pgserver.get_server(workdir / "pgdata", cleanup_mode="stop")
            url = server.get_uri()
        try:
            for store in stores:
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                env = {
                    "RAG_STORE": store,
                    "RAG_INDEX_DIR": str(workdir / f"index-{store}"),
                    "RAG_LIBRARY_DIR": str(workdir / "library"),
                    "RAG_API_KEY": None,
                }
                if store == "pgvector":
                    env |= {"RAG_DATABASE_URL": url, "RAG_DATABASE_SCHEMA": schema}
                # Built beforehand, so every server loads it: a process that builds the index
                # keeps ~250 MB more heap (batch encoding, parsing every sentence) than one
                # that loads it, which is not what serving costs.
                build_index(env)
                for workers in worker_counts:
                    log = workdir / f"server-{store}-{workers}.log"
                    extra = ("--no-access-log", "--workers", str(workers))
                    with running_server_process(log, env, timeout=300, extra_args=extra) as srv:
                        print(f"\n{store}, {workers} worker(s) on {srv.url}", flush=True)
                        for users in levels:
                            level = run_locust(srv.url, users, args.duration, workdir)
                            row = Row(store, workers, users, level.ok, level.errors,
                                      round(level.throughput, 1), round(level.p50, 1),
                                      round(level.p95, 1))  # fmt: skip
                            rows.append(row)
                            print(f"  c={users:<3} {row.req_per_s:7.1f} req/s  p50 "
                                  f"{row.p50_ms:6.1f} ms  p95 {row.p95_ms:6.1f} ms  "
                                  f"errors {row.errors}", flush=True)  # fmt: skip
                        per_worker = serving_memory(srv.pid)
                        entry: dict[str, object] = {
                            "store": store,
                            "workers": workers,
                            "rss_mib_per_worker": [round(r, 0) for r, _ in per_worker],
                            "pss_mib_per_worker": [round(p, 0) for _, p in per_worker],
                        }
                        if store == "pgvector":
                            entry["postgres_pss_mib"] = round(postgres_memory(), 0)
                        memory.append(entry)
                        print(f"  memory: {entry}", flush=True)
        finally:
            if server is not None:
                server.cleanup()
    print()
    print(table(
        ["store", "workers", "clients", "req/s", "p50 ms", "p95 ms", "errors"],
        [[r.store, r.workers, r.users, r.req_per_s, r.p50_ms, r.p95_ms, r.errors]
         for r in rows],
    ))  # fmt: skip
    print()
    print(table(
        ["store", "workers", "RSS MiB / worker", "PSS MiB / worker", "PostgreSQL PSS MiB"],
        [[m["store"], m["workers"], m["rss_mib_per_worker"], m["pss_mib_per_worker"],
          m.get("postgres_pss_mib", "")] for m in memory],
    ))  # fmt: skip
    save_result(
        "workers",
        {
            "machine": machine_note(),
            "duration_s": args.duration,
            "rows": [asdict(r) for r in rows],
            "memory": memory,
            "cpus": os.cpu_count(),
        },
    )
    print(f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
