"""Progress reporting and cooperative cancellation for long work, transport-agnostic.

Domain functions that may run long take a `job: Job = NULL_JOB` argument, call
`job.progress(done, total, message)` now and then, and `job.check()` at safe points
(before anything becomes visible), which raises `Cancelled` once the caller cancelled.
The daemon supplies a Job that sends `$/progress` notifications; the CLI one draws a bar.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bridge.errors import Cancelled

__all__ = ["NULL_JOB", "Job"]

ProgressSink = Callable[[int, "int | None", str], None]


class Job:
    """A cancel flag plus a rate-limited progress sink. Thread-safe."""

    def __init__(self, sink: ProgressSink | None = None, *, min_interval: float = 0.1) -> None:
        self._sink = sink
        self._cancelled = threading.Event()
        self._min_interval = min_interval
        self._last = 0.0

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raises:
        Cancelled: the caller asked to stop.
        """
        if self._cancelled.is_set():
            raise Cancelled()

    def progress(self, done: int, total: int | None = None, message: str = "", *, force: bool = False) -> None:
        """Report progress (rate-limited unless `force` or done == total); also checks for cancel."""
        self.check()
        if self._sink is None:
            return
        now = time.monotonic()
        if force or (total is not None and done >= total) or now - self._last >= self._min_interval:
            self._last = now
            self._sink(done, total, message)


NULL_JOB = Job()
