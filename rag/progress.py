"""Status lines and progress bars for the slow steps (ONNX export, indexing, evaluation).

The library reports through a `Reporter`; by default it only logs. The CLI passes a
`StderrReporter`: one line per slow step on stderr with its duration ("indexing 5 articles…
60 passages, 125 sentences, 3.9 s"), and progress bars only when stderr is a terminal.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

log = logging.getLogger("rag")


@dataclass
class Step:
    """A running step; set `detail` to say what it produced (shown before the duration)."""

    label: str
    detail: str = ""


class Reporter(Protocol):
    def step(self, label: str) -> Any:
        """Context manager around a slow step, yielding its `Step`."""
        ...

    def progress(self, label: str, done: int, total: int, unit: str = "text") -> None:
        """`done` of `total` items; call it with done=0 before the work starts."""
        ...


class LogReporter:
    """The library's default: a log record per finished step, no bars."""

    @contextmanager
    def step(self, label: str) -> Iterator[Step]:
        step = Step(label)
        started = time.perf_counter()
        yield step
        detail = f" ({step.detail})" if step.detail else ""
        log.info("%s%s: %.1f s", label, detail, time.perf_counter() - started)

    def progress(self, label: str, done: int, total: int, unit: str = "text") -> None:
        pass


class StderrReporter:
    """Status lines on stderr (stdout stays clean for --json); tqdm bars on a terminal only."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._bars: dict[str, Any] = {}

    @contextmanager
    def step(self, label: str) -> Iterator[Step]:
        step = Step(label)
        self.stream.write(f"{label}… ")
        self.stream.flush()
        started = time.perf_counter()
        try:
            yield step
        except BaseException:
            self._close_bars()
            self._finish(step, "failed")
            raise
        self._close_bars()
        seconds = time.perf_counter() - started
        self._finish(step, f"{step.detail}, {seconds:.1f} s" if step.detail else f"{seconds:.1f} s")

    def _finish(self, step: Step, outcome: str) -> None:
        # On a terminal a bar may have overwritten the label: write the whole line again.
        prefix = f"\r{step.label}… " if self.tty else ""
        self.stream.write(f"{prefix}{outcome}\n")
        self.stream.flush()

    def progress(self, label: str, done: int, total: int, unit: str = "text") -> None:
        if not self.tty:
            return
        bar = self._bars.get(label)
        if bar is None:
            from tqdm import tqdm

            self._close_bars()
            bar = self._bars[label] = tqdm(
                total=total, desc=label, unit=unit, file=self.stream, leave=False
            )
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self._bars[label]

    def _close_bars(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
