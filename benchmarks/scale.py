"""(e) Index scale: 1e4, 1e5, 1e6 passages — build time, memory, query latency, recall@10.

Vectors: real MiniLM embeddings of Python docstring passages (common.real_vectors, up to
20,000 base vectors plus held-out queries), and beyond that synthetic vectors drawn to
resemble them: a random real vector plus Gaussian noise with the real vectors' covariance,
scaled so a synthetic vector's cosine to its source matches the real corpus's typical
nearest-neighbour cosine, then L2-normalised. So rows <= 20,000 are all real; 1e5 and 1e6 are
20,000 real + synthetic. Queries are always held-out real vectors (never in the index).

Per size and index type:
  build s        time to build (make_faiss_index for HNSW: our parameters, all cores)
  bytes/vector   faiss.serialize_index size / n, and the RSS growth of a fresh process that
                 loads the index file, against the theoretical size
  p50 / p95 ms   one query at a time on one thread (as the retriever searches), k=20
  recall@10      against exact search (IndexFlatIP) for the same queries

Types: flat (exact), hnsw (make_faiss_index's choice above the threshold); for comparison,
up to 1e5 only (--extra-types, --extra-max): hnsw-sq8 (8-bit codes) and ivf (IVFFlat,
nlist = 4 sqrt(n)). Sweeps of efSearch / nprobe show the recall-latency margin.

Usage: python benchmarks/scale.py [--quick] [--sizes 10000,100000] [--types flat,hnsw,ivf]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from common import (
    CACHE,
    PYTHON,
    ROOT,
    machine_note,
    real_vectors,
    save_result,
    summarise,
    table,
)

N_REAL_POOL = 22_000
N_BASE_REAL = 20_000
K = 10
SEARCH_K = 20  # the retriever asks for candidate_k = 20 chunks (40 sentences)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def calibrate_noise(real: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Cholesky factor of the real covariance and the noise scale that makes
    cos(synthetic, source) ~ the real median nearest-neighbour cosine."""
    import faiss

    centred = real - real.mean(axis=0)
    cov = centred.T @ centred / len(real)
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(cov.shape[0])).astype(np.float32)
    index = faiss.IndexFlatIP(real.shape[1])
    index.add(real)
    sims, _ = index.search(real[:2000], 2)
    target = float(np.median(sims[:, 1]))  # [:, 0] is the vector itself
    src = real[rng.integers(0, len(real), 2000)]
    noise = rng.standard_normal(src.shape, dtype=np.float32) @ chol.T
    lo, hi = 0.0, 10.0
    for _ in range(40):  # bisection on the noise scale
        mid = (lo + hi) / 2
        x = src + mid * noise
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        cos = float(np.median((x * src).sum(axis=1)))
        lo, hi = (mid, hi) if cos > target else (lo, mid)
    return chol, (lo + hi) / 2, target


def synthetic(
    real: np.ndarray, n: int, chol: np.ndarray, scale: float, seed: int = 1
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    step = 100_000
    for i in range(0, n, step):
        m = min(step, n - i)
        x = real[rng.integers(0, len(real), m)] + scale * (
            rng.standard_normal((m, real.shape[1]), dtype=np.float32) @ chol.T
        )
        out[i : i + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def build(kind: str, data: np.ndarray) -> Any:
    import faiss

    from rag.settings import Settings
    from rag.store import make_faiss_index

    n, dim = data.shape
    if kind == "flat":
        return make_faiss_index(data, Settings(hnsw_threshold=n + 1, embed_backend="fake"))
    if kind == "hnsw":
        return make_faiss_index(data, Settings(hnsw_threshold=1, embed_backend="fake"))
    faiss.omp_set_num_threads(2)
    try:
        if kind == "hnsw-sq8":
            from rag.store import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

            index = faiss.IndexHNSWSQ(
                dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT
            )
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
            index.train(data)
            index.add(data)
            return index
        if kind == "ivf":
            nlist = int(4 * math.sqrt(n))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.niter = 10
            sample = data[np.random.default_rng(0).permutation(n)[: 64 * nlist]]
            index.train(sample)
            index.add(data)
            index.nprobe = 32
            return index
    finally:
        faiss.omp_set_num_threads(1)
    raise ValueError(kind)


def theoretical_bytes(kind: str, dim: int, n: int) -> float:
    from rag.store.faiss_index import HNSW_M, hnsw_bytes_per_vector

    if kind == "flat":
        return 4 * dim
    if kind == "hnsw":
        return hnsw_bytes_per_vector(dim)
    if kind == "hnsw-sq8":
        return hnsw_bytes_per_vector(dim) - 3 * dim  # 1 byte per dimension instead of 4
    if kind == "ivf":
        return 4 * dim + 8 + 4 * dim * int(4 * math.sqrt(n)) / n  # codes + id + centroids
    _ = HNSW_M
    raise ValueError(kind)


def loaded_rss_mb(path: Path) -> float:
    """RSS growth of a fresh process reading the index file: what serving it costs."""
    code = (
        "import sys; sys.path.insert(0, 'benchmarks')\n"
        "import faiss\n"
        "from common import rss_now_mb\n"
        "before = rss_now_mb()\n"
        f"index = faiss.read_index({str(path)!r})\n"
        "print(rss_now_mb() - before)\n"
    )
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = K) -> float:
    return float(
        np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)])
    )


def latency(index: Any, queries: np.ndarray) -> tuple[Any, np.ndarray]:
    import faiss

    faiss.omp_set_num_threads(1)
    times, ids = [], []
    for q in queries:
        t = time.perf_counter()
        _, i = index.search(q.reshape(1, -1), SEARCH_K)
        times.append(time.perf_counter() - t)
        ids.append(i[0])
    return summarise(times), np.array(ids)


def run_size(
    n: int,
    kinds: list[str],
    base_real: np.ndarray,
    queries: np.ndarray,
    noise: tuple[np.ndarray, float],
) -> list[dict[str, Any]]:
    import faiss

    n_real = min(n, len(base_real))
    data = base_real[:n_real]
    if n > n_real:
        data = np.vstack([data, synthetic(base_real, n - n_real, *noise)])
    truth_index = faiss.IndexFlatIP(data.shape[1])
    truth_index.add(data)
    faiss.omp_set_num_threads(2)
    _, truth = truth_index.search(queries, K)
    del truth_index
    rows = []
    for kind in kinds:
        _log(f"  n={n:,} {kind}: building ...")
        t0 = time.perf_counter()
        index = build(kind, data)
        build_s = time.perf_counter() - t0
        blob = faiss.serialize_index(index)
        ser_bytes = len(blob) / n
        path = CACHE / f"scale-{kind}.faiss"
        path.write_bytes(blob.tobytes())
        del blob
        rss_mb = loaded_rss_mb(path)
        path.unlink()
        n_lat = len(queries) if kind != "flat" or n < 500_000 else 60
        lat, found = latency(index, queries[:n_lat])
        _, found_all = index.search(queries, K) if n_lat < len(queries) else (None, found)
        row: dict[str, Any] = {
            "n": n,
            "real": n_real,
            "synthetic": n - n_real,
            "type": kind,
            "build_s": round(build_s, 3),
            "bytes_per_vector_serialized": round(ser_bytes, 1),
            "bytes_per_vector_rss": round(rss_mb * 1024 * 1024 / n, 1),
            "bytes_per_vector_theory": round(theoretical_bytes(kind, data.shape[1], n), 1),
            "p50_ms": lat.p50_ms,
            "p95_ms": lat.p95_ms,
            "recall_at_10": round(recall_at(found_all, truth), 4),
            "queries": len(queries),
        }
        if kind in ("hnsw", "hnsw-sq8"):
            sweep = {}
            for ef in (32, 64, 128, 256):
                index.hnsw.efSearch = ef
                lat_ef, _ = latency(index, queries[:100])
                _, f = index.search(queries, K)
                sweep[ef] = {"recall_at_10": round(recall_at(f, truth), 4), "p50_ms": lat_ef.p50_ms}
            row["ef_search_sweep"] = sweep
        if kind == "ivf":
            sweep = {}
            for nprobe in (8, 16, 32, 64, 128):
                index.nprobe = nprobe
                lat_p, _ = latency(index, queries[:100])
                _, f = index.search(queries, K)
                sweep[nprobe] = {
                    "recall_at_10": round(recall_at(f, truth), 4),
                    "p50_ms": lat_p.p50_ms,
                }
            row["nprobe_sweep"] = sweep
        rows.append(row)
        _log(f"    {json.dumps({k: v for k, v in row.items() if not k.endswith('sweep')})}")
        del index
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at 1e5")
    parser.add_argument("--sizes", default=None, help="comma-separated, e.g. 10000,100000")
    parser.add_argument("--types", default="flat,hnsw", help="flat,hnsw,hnsw-sq8,ivf")
    parser.add_argument(
        "--extra-types",
        default="hnsw-sq8,ivf",
        help="also measured, at sizes up to --extra-max only (for comparison)",
    )
    parser.add_argument("--extra-max", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="held-out real queries")
    args = parser.parse_args()
    sizes = (
        [int(float(s)) for s in args.sizes.split(",")]
        if args.sizes
        else ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    )
    kinds = [k.strip() for k in args.types.split(",") if k.strip()]
    extra = [k.strip() for k in args.extra_types.split(",") if k.strip() and k not in kinds]
    started = time.perf_counter()
    vectors, _ = real_vectors(N_REAL_POOL, log=_log)
    base_real = np.ascontiguousarray(vectors[:N_BASE_REAL])
    queries = np.ascontiguousarray(vectors[N_BASE_REAL : N_BASE_REAL + args.queries])
    chol, scale, target = calibrate_noise(base_real, np.random.default_rng(0))
    _log(f"synthetic noise scale {scale:.3f} (real median nearest-neighbour cosine {target:.3f})")

    rows: list[dict[str, Any]] = []
    # Real vectors only, for choosing parameters on real MiniLM embeddings.
    rows += run_size(
        N_BASE_REAL, [k for k in kinds + extra if k != "flat"], base_real, queries, (chol, scale)
    )
    for n in sizes:
        more = extra if n <= args.extra_max else []
        rows += run_size(n, kinds + more, base_real, queries, (chol, scale))

    print(
        f"\n## (e) Index scale ({len(queries)} held-out real queries, k={SEARCH_K} per search, "
        f"1 search thread; build on all cores); {machine_note()}\n"
    )
    print(
        table(
            [
                "n",
                "vectors",
                "type",
                "build s",
                "p50 ms",
                "p95 ms",
                "recall@10",
                "B/vec file",
                "B/vec RSS",
                "B/vec theory",
                "RSS/theory",
            ],
            [
                [
                    f"{r['n']:,}",
                    "real"
                    if not r["synthetic"]
                    else f"{r['real']:,} real + {r['synthetic']:,} synth",
                    r["type"],
                    r["build_s"],
                    f"{r['p50_ms']:.3f}",
                    f"{r['p95_ms']:.3f}",
                    f"{r['recall_at_10']:.4f}",
                    r["bytes_per_vector_serialized"],
                    r["bytes_per_vector_rss"],
                    r["bytes_per_vector_theory"],
                    f"{r['bytes_per_vector_rss'] / r['bytes_per_vector_theory']:.3f}",
                ]
                for r in rows
            ],
        )
    )
    sweeps = [r for r in rows if "ef_search_sweep" in r or "nprobe_sweep" in r]
    if sweeps:
        print("\nSearch-depth sweeps (recall@10 / p50 ms):")
        for r in sweeps:
            sweep = r.get("ef_search_sweep") or r["nprobe_sweep"]
            knob = "efSearch" if "ef_search_sweep" in r else "nprobe"
            print(
                f"  n={r['n']:,} {r['type']}: "
                + ", ".join(
                    f"{knob}={k}: {v['recall_at_10']:.4f} / {v['p50_ms']:.3f}"
                    for k, v in sweep.items()
                )
            )
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["n"] in sizes:
            by_type.setdefault(r["type"], []).append(r)
    print("\nGrowth per 10x more vectors (p50 latency, build time):")
    for kind, rs in by_type.items():
        steps = []
        for a, b in itertools.pairwise(rs):
            step = f"{a['n']:,}->{b['n']:,}: latency x{b['p50_ms'] / a['p50_ms']:.1f}"
            if a["build_s"] >= 0.01:  # a flat "build" is a memcpy: no meaningful ratio
                step += f", build x{b['build_s'] / a['build_s']:.1f}"
            steps.append(step)
        print(f"  {kind}: " + "; ".join(steps))
    print(f"\n(scale benchmark took {time.perf_counter() - started:.0f} s)")
    save_result("scale", {"rows": rows, "noise_scale": scale, "real_nn_cosine": target})


if __name__ == "__main__":
    main()
