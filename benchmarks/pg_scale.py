"""PostgreSQL + pgvector HNSW at 1e5 / 1e6 passages, side by side with our FAISS HNSW.

Vectors, queries and ground truth are scale.py's: 20,000 real MiniLM docstring vectors plus
synthetic ones drawn to resemble them (scale.synthetic), dim 384, L2-normalised; 300 held-out
real queries; recall@10 against exact search (IndexFlatIP, scale.build("flat")).

pgvector, per size, in a throwaway server (pgserver: PostgreSQL 16.2 + pgvector 0.6.2) in a
temporary folder that is removed afterwards:
  load s         COPY ... FROM STDIN (FORMAT BINARY) of (id bigint primary key,
                 embedding vector(384)) through psycopg's copy + pgvector's binary dumper,
                 one transaction, then VACUUM (ANALYZE) (timed separately)
  build s        CREATE INDEX ... USING hnsw (embedding vector_ip_ops) WITH (m, ef_construction)
  B/vec index    pg_relation_size(index) / n (the table's heap is reported beside it)
  p50 / p95 ms   one query at a time over one connection (Unix socket), client side, so it
                 includes the round trip: SET hnsw.ef_search; SELECT id FROM t ORDER BY
                 embedding <#> $1 LIMIT 20 (a prepared statement); EXPLAIN checks once that
                 the plan is an Index Scan on the HNSW index
  recall@10      of those 20 ids against exact search, per ef_search of the sweep
FAISS: scale.build("hnsw") = rag.store.make_faiss_index (M=32, efConstruction=80, efSearch
128 / 256 from 5e5, build on all cores), scale.latency (1 thread), the same ef sweep.

Server settings, and why:
  maintenance_work_mem  pgvector builds the graph in memory only while it fits in
      maintenance_work_mem; past that it flushes and inserts the rest on disk, one tuple at a
      time (NOTICE "hnsw graph no longer fits", many times slower). Set to twice pgvector's
      own per-element estimate (element + 2m+1 neighbour candidates + the vector), rounded
      up to a GB: 5 GB at 1e6 for m=16 (measured: ~2.0 KB an element, 40 MB held 18,627
      elements, so the 1e6 graph needs ~2 GB). A parallel build takes it as one shared-
      memory segment up front (posix_fallocate in /dev/shm), so it is not set higher than
      needed. The NOTICE is captured and reported ("in memory" column).
  max_parallel_maintenance_workers = 1  pgvector >= 0.6 builds in parallel; the leader
      takes part, so 1 worker + leader = the 2 cores (more only contend for them).
  shared_buffers        n x 5 KiB (>= 256 MB): heap (~1.6 KB a row) and index (~2 KB a
      vector) stay in PostgreSQL's own buffer cache while querying, as a server dedicated to
      this would be sized; with the 128 MB default every query copies most pages in from the
      OS page cache. Needs a restart: set with ALTER SYSTEM, then the server is restarted.
  max_wal_size = 16GB, checkpoint_timeout = 1h  the load (~1.7 GB) and the build (which
      WAL-logs every index page) stay clear of forced checkpoints, whose I/O would otherwise
      land inside the timings.
  autovacuum_enabled = off on the table during the load: no autovacuum / autoanalyze worker
      competing for the 2 cores mid-COPY; VACUUM (ANALYZE) is run explicitly afterwards (sets
      hint bits and the visibility map once, so the build's heap scan does not write) and
      autovacuum is switched back on.

Parameters chosen (goal: recall@10 >= 0.98 with p50 <= 20 ms at 1e6): m=16,
ef_construction=64 (pgvector's defaults), hnsw.ef_search=400 at 1e6 (128 at 1e5).
What the sweeps showed (2 cores shared with other jobs, load average ~3):
  1e6, m=16 efC=64:  build 712 s; ef_search 128 / 200 / 256 / 400 -> recall 0.975 / 0.983 /
      0.988 / 0.999 at p50 4.5 / 6.0 / 7.6 / 10.6 ms (p95 14.9 ms at 400).
  1e6, m=16 efC=128: build 1351 s (1.9x); 0.988 / 0.994 / 0.996 / 0.997 at p50 5.4 / 7.8 /
      9.6 / 14.1 ms: a better graph helps at small ef_search only, and latency is far from
      the 20 ms budget, so raising ef_search is the cheaper way to recall.
  1e5 (--builds 16:64,16:128,24:80,32:80): m=24/32 cost 1.7x / 2.1x the build of m=16
      efC=64 and were no better per ms of query (m=32: twice the neighbours scored per hop).
  FAISS M=32 efC=80 (the product's) for comparison: 0.997 at 2.0 ms (efSearch 256, 1e6):
      pgvector is ~4-5x slower per query at equal ef_search (buffer manager, ~2,000 buffer
      hits a query, client round trip) and needs more ef_search for the same recall (m=16).

Usage: python benchmarks/pg_scale.py [--quick] [--sizes 100000,1000000]
           [--builds 16:64,16:128] [--ef-search 40,64,100,128,200,256,400] [--no-faiss]
The full default run takes ~50 min on 2 busy cores (most of it the two 1e6 pgvector builds
and the 1e6 FAISS build); --quick ~6 min.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_note, real_vectors, save_result, summarise, table
from scale import (
    N_BASE_REAL,
    N_REAL_POOL,
    SEARCH_K,
    K,
    build,
    calibrate_noise,
    latency,
    recall_at,
    synthetic,
)

from rag.store.faiss_index import HNSW_M

DIM = 384
TABLE = "t"
QUERY = f"SELECT id FROM {TABLE} ORDER BY embedding <#> %b LIMIT {SEARCH_K}"
GB = 1024**3


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def graph_bytes_per_vector(m: int, dim: int = DIM) -> float:
    """pgvector 0.6's in-memory build graph, per element (HnswGetMaxInMemoryElements' terms):
    the element (~160 B with its heap TIDs and lock), 16-byte candidates for 2m level-0 and
    ~m/(m-1) upper-level neighbours, the neighbour-array headers, the vector varlena."""
    return 160 + 16 * (2 * m + m / (m - 1)) + 16 * 2 + 8 + 4 * dim


def auto_maintenance_work_mem(n: int, m: int) -> str:
    return f"{max(1, math.ceil(2 * n * graph_bytes_per_vector(m) / GB))}GB"


def auto_shared_buffers(n: int) -> str:
    return f"{max(256, math.ceil(n * 5 / 1024))}MB"


@contextmanager
def throwaway_server(settings: dict[str, str]) -> Iterator[str]:
    """A PostgreSQL in a temporary folder with `settings` (ALTER SYSTEM, then a restart);
    yields its URI; stops it and removes the folder afterwards."""
    import pgserver
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="pg-scale-"))
    server = None
    try:
        server = pgserver.get_server(folder, cleanup_mode="stop")
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            for name, value in settings.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        server.cleanup()  # stop: shared_buffers needs a restart
        server = pgserver.get_server(folder, cleanup_mode="stop")
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
            for name in settings:
                got = conn.execute(f"SHOW {name}").fetchone()[0]
                _log(f"    {name} = {got}")
        yield server.get_uri()
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def connect(uri: str) -> Any:
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(uri, autocommit=True)
    register_vector(conn)
    return conn


def load(conn: Any, data: np.ndarray) -> dict[str, float]:
    conn.execute(
        f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, embedding vector({data.shape[1]})) "
        "WITH (autovacuum_enabled = off)"
    )
    t0 = time.perf_counter()
    sql = f"COPY {TABLE} (id, embedding) FROM STDIN WITH (FORMAT BINARY)"
    with conn.transaction(), conn.cursor() as cur, cur.copy(sql) as copy:
        copy.set_types(["int8", "vector"])
        for i, vec in enumerate(data):
            copy.write_row((i, vec))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute(f"VACUUM (ANALYZE) {TABLE}")
    vacuum_s = time.perf_counter() - t0
    conn.execute(f"ALTER TABLE {TABLE} RESET (autovacuum_enabled)")
    heap = conn.execute(f"SELECT pg_relation_size('{TABLE}')").fetchone()[0]
    count = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    assert count == len(data), (count, len(data))
    return {
        "load_s": round(load_s, 2),
        "rows_per_s": round(len(data) / load_s),
        "vacuum_analyze_s": round(vacuum_s, 2),
        "heap_bytes_per_row": round(heap / len(data), 1),
    }


def _progress(uri: str, done: threading.Event, every_s: float = 60.0) -> None:
    """Log pg_stat_progress_create_index while a long build runs."""
    with connect(uri) as conn:
        t0 = time.perf_counter()
        while not done.wait(every_s):
            row = conn.execute(
                "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index"
            ).fetchone()
            if row:
                _log(f"      {time.perf_counter() - t0:.0f} s: {row[0]}, {row[1]:,} tuples")


def build_hnsw(
    uri: str, conn: Any, n: int, m: int, ef_c: int, mwm: str, timeout_min: float
) -> dict[str, Any]:
    import psycopg

    notices: list[str] = []

    def on_notice(diag: Any) -> None:
        notices.append(diag.message_primary)

    conn.add_notice_handler(on_notice)
    conn.execute(f"SET maintenance_work_mem = '{mwm}'")
    conn.execute("SET max_parallel_maintenance_workers = 1")
    conn.execute(f"SET statement_timeout = '{int(timeout_min * 60)}s'")
    done = threading.Event()
    watcher = threading.Thread(target=_progress, args=(uri, done), daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    timed_out = False
    try:
        conn.execute(
            f"CREATE INDEX {TABLE}_hnsw ON {TABLE} USING hnsw (embedding vector_ip_ops) "
            f"WITH (m = {m}, ef_construction = {ef_c})"
        )
    except psycopg.errors.QueryCanceled:
        timed_out = True
    build_s = time.perf_counter() - t0
    done.set()
    watcher.join()
    conn.remove_notice_handler(on_notice)
    conn.execute("RESET statement_timeout")
    conn.execute("RESET maintenance_work_mem")
    out: dict[str, Any] = {
        "m": m,
        "ef_construction": ef_c,
        "maintenance_work_mem": mwm,
        "build_s": round(build_s, 1),
        "timed_out": timed_out,
        "in_memory": not any("no longer fits" in s for s in notices),
        "notices": notices,
    }
    if not timed_out:
        size = conn.execute(f"SELECT pg_relation_size('{TABLE}_hnsw')").fetchone()[0]
        out["index_bytes_per_vector"] = round(size / n, 1)
    return out


def explain(conn: Any, query: np.ndarray, ef: int) -> str:
    conn.execute(f"SET hnsw.ef_search = {ef}")
    plan = f"(hnsw.ef_search = {ef})\n" + "\n".join(
        r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + QUERY, (query,)).fetchall()
    )
    plan = re.sub(r"'\[[^\]]*\]'::vector", "$1", plan)  # the 384 numbers of the query
    if f"Index Scan using {TABLE}_hnsw" not in plan:
        raise RuntimeError(f"the HNSW index is not used:\n{plan}")
    return plan


def pg_search(conn: Any, queries: np.ndarray, ef: int) -> tuple[Any, list[list[int]]]:
    conn.execute(f"SET hnsw.ef_search = {ef}")
    times, ids = [], []
    with conn.cursor() as cur:
        for q in queries:
            t = time.perf_counter()
            cur.execute(QUERY, (q,), prepare=True)
            rows = cur.fetchall()
            times.append(time.perf_counter() - t)
            ids.append([r[0] for r in rows])
    return summarise(times), ids


def pg_sweep(conn: Any, queries: np.ndarray, truth: np.ndarray, efs: list[int]) -> dict:
    pg_search(conn, queries, max(efs))  # warm-up: plans prepared, pages in shared_buffers
    sweep = {}
    for ef in efs:
        lat, found = pg_search(conn, queries, ef)
        sweep[ef] = {
            "p50_ms": lat.p50_ms,
            "p95_ms": lat.p95_ms,
            "mean_ms": lat.mean_ms,
            "recall_at_10": round(recall_at(found, truth), 4),
            "short_results": sum(len(f) < SEARCH_K for f in found),
        }
        _log(f"      ef_search={ef}: {sweep[ef]}")
    return sweep


def run_pg(
    n: int,
    data: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    builds: list[tuple[int, int]],
    efs: list[int],
    args: argparse.Namespace,
) -> dict[str, Any]:
    shared_buffers = args.shared_buffers or auto_shared_buffers(n)
    settings = {
        "shared_buffers": shared_buffers,
        "max_wal_size": "16GB",
        "checkpoint_timeout": "1h",
    }
    _log(f"  n={n:,} pgvector: starting a throwaway server")
    with throwaway_server(settings) as uri, connect(uri) as conn:
        out: dict[str, Any] = {"n": n, "settings": settings}
        out |= load(conn, data)
        _log(f"    load: {out}")
        out["builds"] = []
        for m, ef_c in builds:
            mwm = args.maintenance_work_mem or auto_maintenance_work_mem(n, m)
            _log(f"    building m={m} ef_construction={ef_c} (maintenance_work_mem {mwm}) ...")
            b = build_hnsw(uri, conn, n, m, ef_c, mwm, args.build_timeout_min)
            _log(f"    {b}")
            if not b["timed_out"]:
                b["ef_search_sweep"] = pg_sweep(conn, queries, truth, efs)
                b["explain"] = explain(conn, queries[0], 100 if 100 in efs else efs[0])
            conn.execute(f"DROP INDEX IF EXISTS {TABLE}_hnsw")
            out["builds"].append(b)
    return out


def run_faiss(n: int, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, efs: list[int]):
    import faiss

    _log(f"  n={n:,} faiss hnsw: building ...")
    t0 = time.perf_counter()
    index = build("hnsw", data)
    build_s = time.perf_counter() - t0
    size = len(faiss.serialize_index(index))
    default_ef = index.hnsw.efSearch
    sweep = {}
    for ef in sorted({*efs, default_ef}):
        index.hnsw.efSearch = ef
        lat, found = latency(index, queries)
        sweep[ef] = {
            "p50_ms": lat.p50_ms,
            "p95_ms": lat.p95_ms,
            "mean_ms": lat.mean_ms,
            "recall_at_10": round(recall_at(found, truth), 4),
        }
    out = {
        "n": n,
        "M": HNSW_M,
        "ef_construction": index.hnsw.efConstruction,
        "ef_search_default": default_ef,
        "build_s": round(build_s, 1),
        "bytes_per_vector": round(size / n, 1),
        "ef_search_sweep": sweep,
    }
    _log(f"    {out}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 only")
    parser.add_argument("--sizes", default=None, help="comma-separated, default 100000,1000000")
    parser.add_argument("--builds", default="16:64,16:128", help="pgvector m:ef_construction, ...")
    parser.add_argument("--ef-search", default="40,64,100,128,200,256,400")
    parser.add_argument("--queries", type=int, default=300, help="held-out real queries")
    parser.add_argument("--no-faiss", action="store_true", help="pgvector only")
    parser.add_argument("--maintenance-work-mem", default=None, help="default: from n and m")
    parser.add_argument("--shared-buffers", default=None, help="default: n x 5 KiB")
    parser.add_argument("--build-timeout-min", type=float, default=60.0)
    parser.add_argument("--name", default="pg_scale", help="build/bench-results/NAME.json")
    args = parser.parse_args()
    sizes = (
        [int(float(s)) for s in args.sizes.split(",")]
        if args.sizes
        else ([100_000] if args.quick else [100_000, 1_000_000])
    )
    builds = [tuple(int(x) for x in b.split(":")) for b in args.builds.split(",") if b.strip()]
    efs = [int(e) for e in args.ef_search.split(",")]

    started = time.perf_counter()
    vectors, _ = real_vectors(N_REAL_POOL, log=_log)
    base_real = np.ascontiguousarray(vectors[:N_BASE_REAL])
    queries = np.ascontiguousarray(vectors[N_BASE_REAL : N_BASE_REAL + args.queries])
    chol, scale, _target = calibrate_noise(base_real, np.random.default_rng(0))

    pg_rows, faiss_rows = [], []
    for n in sizes:
        import faiss

        n_real = min(n, len(base_real))
        data = base_real[:n_real]
        if n > n_real:
            data = np.vstack([data, synthetic(base_real, n - n_real, chol, scale)])
        faiss.omp_set_num_threads(2)
        _, truth = build("flat", data).search(queries, K)
        if not args.no_faiss:
            faiss_rows.append(run_faiss(n, data, queries, truth, efs))
        pg_rows.append(run_pg(n, data, queries, truth, builds, efs, args))
        del data
        partial = {"complete": False, "pgvector": pg_rows, "faiss": faiss_rows}
        save_result(args.name, partial)  # a long run keeps what it measured so far

    note = machine_note()
    print(
        f"\n## pgvector vs FAISS HNSW ({len(queries)} held-out real queries, k={SEARCH_K}, "
        f"one query at a time; recall@10 vs exact); {note}\n"
    )
    rows = []
    for p in pg_rows:
        for b in p["builds"]:
            for ef, s in b.get("ef_search_sweep", {None: {}}).items():
                rows.append(
                    [
                        f"{p['n']:,}",
                        "pgvector",
                        f"m={b['m']}, efC={b['ef_construction']}",
                        p["load_s"],
                        f"{b['build_s']}" + (" (timed out)" if b["timed_out"] else ""),
                        "yes" if b["in_memory"] else "NO",
                        b.get("index_bytes_per_vector", "-"),
                        ef,
                        s.get("p50_ms", "-"),
                        s.get("p95_ms", "-"),
                        s.get("recall_at_10", "-"),
                    ]
                )
    for f in faiss_rows:
        for ef, s in f["ef_search_sweep"].items():
            rows.append(
                [
                    f"{f['n']:,}",
                    "faiss",
                    f"M={f['M']}, efC={f['ef_construction']}"
                    + (" (default ef)" if ef == f["ef_search_default"] else ""),
                    "-",
                    f["build_s"],
                    "-",
                    f["bytes_per_vector"],
                    ef,
                    f"{s['p50_ms']:.3f}",
                    f"{s['p95_ms']:.3f}",
                    s["recall_at_10"],
                ]
            )
    print(
        table(
            [
                "n",
                "engine",
                "index",
                "load s",
                "build s",
                "in memory",
                "B/vec index",
                "ef_search",
                "p50 ms",
                "p95 ms",
                "recall@10",
            ],
            rows,
        )
    )
    for p in pg_rows:
        print(
            f"\npgvector n={p['n']:,}: COPY {p['rows_per_s']:,} rows/s, VACUUM (ANALYZE) "
            f"{p['vacuum_analyze_s']} s, heap {p['heap_bytes_per_row']} B/row; {p['settings']}"
        )
        for b in p["builds"]:
            if "explain" in b:
                print(f"  m={b['m']}, efC={b['ef_construction']}: EXPLAIN (ANALYZE, BUFFERS)")
                print("    " + b["explain"].replace("\n", "\n    "))
    print(f"\n(pg_scale took {time.perf_counter() - started:.0f} s)")
    save_result(
        args.name,
        {
            "complete": True,
            "machine": note,
            "sizes": sizes,
            "pgvector": pg_rows,
            "faiss": faiss_rows,
        },
    )


if __name__ == "__main__":
    main()
