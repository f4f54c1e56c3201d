"""Locust user for benchmarks/load_api.py: POST /ask over a rotating set of questions.

Each request's exact latency (float ms) is appended to $LOAD_API_OUT, because Locust's own
percentiles are rounded (to 10 ms above 100 ms) and the overhead target is 2 ms.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    json.loads(line)["question"]
    for name in ("dev.jsonl", "own.jsonl")
    for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
    if line.strip()
]
_next_question = itertools.cycle(QUESTIONS)
_records: list[str] = []


@events.request.add_listener
def _record(response_time: float, exception: BaseException | None, **_: Any) -> None:
    # time.time() is when the request finished; start = end - latency.
    _records.append(f"{time.time():.6f} {response_time:.3f} {0 if exception else 1}")


@events.quitting.add_listener
def _dump(**_: Any) -> None:
    out = os.environ.get("LOAD_API_OUT")
    if out:
        Path(out).write_text("\n".join(_records) + "\n", encoding="utf-8")


class AskUser(FastHttpUser):
    # Closed loop: each user sends its next question as soon as the answer arrives, so the
    # number of users is the number of requests in flight.
    wait_time = constant(0)

    def on_start(self) -> None:
        key = os.environ.get("LOAD_API_KEY")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    @task
    def ask(self) -> None:
        question = next(_next_question)
        with self.client.post(
            "/ask", json={"question": question}, headers=self.headers, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            elif not (response.json() or {}).get("answer"):
                response.failure("no answer in the response")
