"""Soak test: a real `rag serve` (real model) under a steady mixed load for a while.

    .venv/bin/python benchmarks/soak.py [--duration 600] [--clients 16]

16 closed-loop clients (each sends its next request when the last one is answered) mix
POST /ask (half), streamed POST /v1/chat/completions (a quarter, read to `data: [DONE]`)
and GET /documents/{id}?start=&end= (a quarter) over the 59 questions of eval/dev.jsonl
and eval/own.jsonl, against a server on a free loopback port, started and stopped here.
Reported: requests and errors by kind, p50/p95/p99 latency, and the server's resident
memory (RSS) and open file descriptors after warm-up, every sampling interval, and at the
end. The bar (issue 14): 0 errors, memory and descriptors flat. Results go to
build/bench-results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import eval_questions, machine_note, save_result  # noqa: E402

from tests.devserver import ServerStartError, running_server_process  # noqa: E402

DEFAULT_DURATION_S = 600  # the "e.g. 10 minutes"
DEFAULT_CLIENTS = 16
SAMPLE_EVERY_S = 10
WARMUP_REQUESTS = 20  # per kind, before the first memory reading: lazy state, caches
MIX = (("ask", 2), ("chat_stream", 1), ("document", 1))  # weights
REQUEST_TIMEOUT_S = 60


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_examples: list[str] = field(default_factory=list)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.error_examples) < 10:
            self.error_examples.append(f"{kind}: {what}")


def process_sample(pid: int) -> dict[str, float]:
    """RSS (MB) and open file descriptors of the server process, from /proc."""
    rss_kb = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return {"rss_mb": round(rss_kb / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def one_request(
    client: httpx.AsyncClient, kind: str, rng: random.Random, data: dict, tally: Tally
) -> None:
    started = time.perf_counter()
    try:
        if kind == "ask":
            response = await client.post("/ask", json={"question": rng.choice(data["questions"])})
            ok = response.status_code == 200 and "answer" in response.json()
            what = f"HTTP {response.status_code}"
        elif kind == "chat_stream":
            body = {
                "model": "nato-rag",
                "stream": True,
                "messages": [{"role": "user", "content": rng.choice(data["questions"])}],
            }
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                text = "".join([chunk async for chunk in response.aiter_text()])
            ok = response.status_code == 200 and text.rstrip().endswith("data: [DONE]")
            what = f"HTTP {response.status_code}, {len(text)} chars"
        else:
            doc_id, length = rng.choice(data["documents"])
            start = rng.randrange(0, max(1, length - 200))
            params = {"start": start, "end": min(length, start + rng.randrange(20, 200))}
            response = await client.get(f"/documents/{doc_id}", params=params)
            ok = response.status_code == 200 and response.json()["span"] is not None
            what = f"HTTP {response.status_code}"
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        ok, what = False, f"{type(exc).__name__}: {exc}"
    if ok:
        tally.latencies[kind].append(time.perf_counter() - started)
    else:
        tally.error(kind, what)


async def client_loop(
    base: str, seed: int, deadline: float, data: dict, tally: Tally, kinds: list[str]
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        while time.monotonic() < deadline:
            await one_request(client, rng.choice(kinds), rng, data, tally)


async def soak(base: str, pid: int, duration: float, clients: int) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        docs = (await client.get("/documents")).json()
    data = {
        "questions": eval_questions(),
        "documents": [(d["doc_id"], d["length"]) for d in docs],
    }
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    warm = Tally()
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        rng = random.Random(0)
        for kind, _ in MIX:
            for _ in range(WARMUP_REQUESTS):
                await one_request(client, kind, rng, data, warm)
    samples = [{"t_s": 0.0, **process_sample(pid)}]
    tally = Tally()
    started = time.monotonic()
    deadline = started + duration

    async def sampler() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(min(SAMPLE_EVERY_S, max(0.0, deadline - time.monotonic())))
            samples.append({"t_s": round(time.monotonic() - started, 1), **process_sample(pid)})

    await asyncio.gather(
        sampler(),
        *(client_loop(base, seed, deadline, data, tally, kinds) for seed in range(clients)),
    )
    elapsed = time.monotonic() - started
    await asyncio.sleep(1)  # let closed connections settle before the last reading
    end = process_sample(pid)
    by_kind = {}
    for kind, _ in MIX:
        ms = [s * 1000 for s in tally.latencies[kind]]
        by_kind[kind] = {
            "ok": len(ms),
            "errors": tally.errors[kind],
            "p50_ms": round(percentile(ms, 50), 2),
            "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2),
        }
    every = [s * 1000 for kind in tally.latencies for s in tally.latencies[kind]]
    return {
        "duration_s": round(elapsed, 1),
        "clients": clients,
        "requests": len(every) + sum(tally.errors.values()),
        "errors": sum(tally.errors.values()),
        "warmup_errors": sum(warm.errors.values()),
        "error_examples": warm.error_examples + tally.error_examples,
        "throughput_rps": round(len(every) / elapsed, 1),
        "all": {
            "p50_ms": round(percentile(every, 50), 2),
            "p95_ms": round(percentile(every, 95), 2),
            "p99_ms": round(percentile(every, 99), 2),
        },
        "by_kind": by_kind,
        "server_start": samples[0],
        "server_end": end,
        "server_samples": samples,
        "rss_max_mb": max(s["rss_mb"] for s in [*samples, end]),
        "machine": machine_note(),
    }


def report(result: dict) -> str:
    lines = [
        f"soak: {result['clients']} clients for {result['duration_s']:.0f} s, "
        f"{result['requests']} requests, {result['throughput_rps']} req/s",
        "",
        "kind          ok  errors   p50 ms   p95 ms   p99 ms",
    ]
    for kind, row in [*result["by_kind"].items(), ("all", result["all"])]:
        ok = row.get("ok", result["requests"] - result["errors"])
        errors = row.get("errors", result["errors"])
        lines.append(
            f"{kind:<11} {ok:>5} {errors:>7} {row['p50_ms']:>8.2f} {row['p95_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f}"
        )
    start, end = result["server_start"], result["server_end"]
    lines += [
        "",
        f"server RSS: {start['rss_mb']} MB after warm-up, {end['rss_mb']} MB at the end "
        f"(max {result['rss_max_mb']} MB); open fds: {start['fds']} -> {end['fds']}",
        f"errors: {result['errors']} (target 0: {'met' if result['errors'] == 0 else 'NOT met'})",
    ]
    for example in result["error_examples"]:
        lines.append(f"  {example}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_S, help="seconds")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as work:
        env = {"RAG_INDEX_DIR": str(Path(work) / "index"), "RAG_API_KEY": None}
        try:
            with running_server_process(Path(work) / "server.log", env) as server:
                print(f"rag serve on {server.url} (pid {server.pid}); soaking...", flush=True)
                result = asyncio.run(soak(server.url, server.pid, args.duration, args.clients))
        except ServerStartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(report(result))
    print(f"\nsaved {save_result('soak', result)}")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
