"""Peak resident memory of a block of code, sampled from /proc/self/statm in a thread (5 ms).
Used by the benchmarks whose work happens in-process (DuckDB's own threads included)."""

from __future__ import annotations

import os
import threading
import time

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * _PAGE


class PeakRss:
    """`with PeakRss() as m: ...` then m.peak (bytes) and m.growth (peak minus RSS at entry)."""

    def __enter__(self) -> "PeakRss":
        self.start = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.005)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())
        self.growth = self.peak - self.start
