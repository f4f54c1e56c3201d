"""(c) Cold start: a fresh `rag ask "..."` process to its first answer, index already built.

Wall time of the whole process (interpreter start, imports, model + index load, one answer),
median of a few runs per backend, plus each child's peak RSS. The ONNX graphs are exported and
the indexes built beforehand, as they would be on a deployed machine.

Usage: python benchmarks/cold_start.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BACKENDS, ROOT, bench_env, machine_note, prepare_indexes, save_result, table

QUESTION = "Where will NATO's new command for coordinating military aid to Ukraine be based?"
TARGET_S = 6.0


def one_run(backend: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one `rag ask` process; os.wait4 gives that child's own
    rusage."""
    rag = Path(sys.executable).with_name("rag")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(rag), "ask", QUESTION],
        env=bench_env(backend),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or "Wiesbaden" not in out:
        raise RuntimeError(f"rag ask with {backend} failed ({proc.returncode}): {out[-500:]}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 5")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args()
    runs = 3 if args.quick else 5
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    prepare_indexes(backends)
    results: dict[str, Any] = {}
    for backend in backends:
        one_run(backend)  # page cache warm: measure a restart, not a first-ever disk read
        samples = [one_run(backend) for _ in range(runs)]
        secs = [s for s, _ in samples]
        results[backend] = {
            "runs": runs,
            "median_s": round(float(np.median(secs)), 3),
            "min_s": round(min(secs), 3),
            "max_s": round(max(secs), 3),
            "peak_rss_mb": round(float(np.median([m for _, m in samples])), 1),
        }
    print(f"\n## (c) Cold start to first answer (`rag ask`, index built); {machine_note()}\n")
    print(
        table(
            ["backend", "median s", "min s", "max s", "peak RSS MB", f"target <= {TARGET_S:g} s"],
            [
                [
                    b,
                    r["median_s"],
                    r["min_s"],
                    r["max_s"],
                    r["peak_rss_mb"],
                    "met" if r["median_s"] <= TARGET_S else "NOT met",
                ]
                for b, r in results.items()
            ],
        )
    )
    save_result("cold_start", results)


if __name__ == "__main__":
    main()
