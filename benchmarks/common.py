"""Shared helpers for the benchmark scripts: timing summaries, caches, a real text corpus.

Nothing here is imported by the library or the tests. Caches live under build/bench-cache/
(gitignored); results are written as JSON under build/bench-results/ for docs/performance.md.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import random
import re
import sys
import sysconfig
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

CACHE = ROOT / "build" / "bench-cache"
RESULTS = ROOT / "build" / "bench-results"
PYTHON = sys.executable


@dataclass(frozen=True)
class Summary:
    n: int
    p50_ms: float
    p95_ms: float
    mean_ms: float

    def cells(self) -> list[str]:
        return [f"{self.p50_ms:.2f}", f"{self.p95_ms:.2f}"]


def summarise(seconds: Sequence[float]) -> Summary:
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    return Summary(
        n=len(ms),
        p50_ms=round(float(np.percentile(ms, 50)), 3),
        p95_ms=round(float(np.percentile(ms, 95)), 3),
        mean_ms=round(float(ms.mean()), 3),
    )


def time_calls(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table, so output pastes straight into docs/performance.md."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def save_result(name: str, data: Any) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path


def machine_note() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def rss_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_now_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --- a real text corpus: Python standard-library docstrings, read with ast (nothing imported)


def _docstrings(path: Path) -> Iterable[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield inspect.cleandoc(doc)


def _passages_of(doc: str) -> Iterable[str]:
    """Consecutive paragraphs joined until 30+ words (like our 3-sentence chunks), <= 200."""
    buf: list[str] = []
    for para in re.split(r"\n\s*\n", doc):
        words = para.split()
        if not words or para.lstrip().startswith((">>>", "..", "|")):
            continue  # doctest and reST directives are code, not prose
        buf.extend(words)
        if len(buf) >= 30:
            yield " ".join(buf[:200])
            buf = []
    if len(buf) >= 8:
        yield " ".join(buf)


def stdlib_passages(limit: int, seed: int = 0) -> list[str]:
    """Docstring passages from the standard library, then (for more) the installed packages.

    Parsed with ast, so nothing is imported; deduplicated; shuffled with a fixed seed.
    """
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    skip = {"test", "tests", "idle_test", "lib2to3", "testing"}
    seen: set[str] = set()
    out: list[str] = []
    for root in roots:
        files = sorted(p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts))
        if root == roots[0]:
            files = [p for p in files if "site-packages" not in p.parts]
        for path in files:
            for doc in _docstrings(path):
                for text in _passages_of(doc):
                    if text not in seen:
                        seen.add(text)
                        out.append(text)
            if len(out) >= limit:
                break
    random.Random(seed).shuffle(out)
    return out[:limit]


def real_vectors(n: int, log: Callable[[str], None] = print) -> tuple[np.ndarray, list[str]]:
    """n stdlib passages embedded with the real MiniLM weights, cached as .npy.

    Embedded through the ONNX fp32 graph (cosine 1.0000 with sentence-transformers, measured by
    tests/embed/test_onnx_embed.py) because it is the quicker of the two on this CPU.
    """
    from rag.embed import packaged_model_path
    from rag.embed.onnx_runtime import OnnxEmbedder

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"docstrings-{n}-v1.npy"
    text_path = path.with_suffix(".json")
    if path.is_file() and text_path.is_file():
        return np.load(path), json.loads(text_path.read_text(encoding="utf-8"))
    texts = stdlib_passages(n)
    log(f"embedding {len(texts)} stdlib passages once (cached in {path}) ...")
    from rag.settings import Settings

    embedder = OnnxEmbedder.from_model_dir(
        packaged_model_path(), "minilm", cache_dir=Settings().onnx_dir, batch_threads=2
    )
    t0 = time.perf_counter()
    parts = []
    step = 2048
    for i in range(0, len(texts), step):
        parts.append(embedder.encode(texts[i : i + step], batch_size=32))
        log(f"  {min(i + step, len(texts))}/{len(texts)} in {time.perf_counter() - t0:.0f} s")
    vectors = np.ascontiguousarray(np.vstack(parts), dtype=np.float32)
    text_path.write_text(json.dumps(texts), encoding="utf-8")
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, path)  # last: the .npy marks the cache complete
    return vectors, texts


# --- pipelines over the seed corpus, one index folder per backend

BACKENDS = ("torch", "onnx", "onnx-int8")
EVAL_SETS = (ROOT / "eval" / "dev.jsonl", ROOT / "eval" / "own.jsonl")


def bench_settings(backend: str, **overrides: Any) -> Any:
    from rag.settings import Settings

    return Settings(
        seeds_dir=ROOT / "seeds",
        index_dir=CACHE / f"index-{backend}",
        embed_backend=backend,
        **overrides,
    )


def bench_env(backend: str) -> dict[str, str]:
    """Environment for a child process that should see the same settings as bench_settings."""
    return os.environ | {
        "RAG_SEEDS_DIR": str(ROOT / "seeds"),
        "RAG_INDEX_DIR": str(CACHE / f"index-{backend}"),
        "RAG_EMBED_BACKEND": backend,
    }


def eval_questions() -> list[str]:
    out = []
    for path in EVAL_SETS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["question"])
    return out


def prepare_indexes(backends: Sequence[str], log: Callable[[str], None] = print) -> None:
    """Export the ONNX graphs and build each backend's index once, in a child process, so the
    measured processes only load."""
    import subprocess

    for backend in backends:
        code = (
            "import sys; sys.path.insert(0, 'benchmarks')\n"
            "from common import bench_settings\n"
            "from rag.pipeline import Pipeline\n"
            f"Pipeline.load(bench_settings({backend!r}))\n"
        )
        t0 = time.perf_counter()
        subprocess.run([PYTHON, "-c", code], cwd=ROOT, check=True)
        log(f"index for {backend}: ready in {time.perf_counter() - t0:.1f} s")


def run_json(args: Sequence[str], env: dict[str, str] | None = None) -> Any:
    """Run a benchmark worker (`python benchmarks/x.py --worker ...`) and parse its last line."""
    import subprocess

    proc = subprocess.run(
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
