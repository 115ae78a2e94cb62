"""Newline-delimited framing: read lines with a size limit, write one frame per line.

Reading never buffers more than the limit: an over-long line is skipped in chunks up to its
newline and reported as `TooLong` so the caller can answer it; the stream stays in sync.
Writing is serialised by a lock, one `write` + `flush` per frame, always `\\n`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["FrameWriter", "LineReader", "TooLong"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class TooLong:
    size: int  # bytes seen before the newline (at least limit + 1)
    limit: int


class LineReader:
    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._limit = limit

    def read(self) -> bytes | TooLong | None:
        """The next line without its newline, a TooLong marker, or None at EOF."""
        line = self._stream.readline(self._limit + 1)
        if not line:
            return None
        if line.endswith(b"\n"):
            return line[:-1]
        if len(line) <= self._limit:
            return line  # last line without a newline, then EOF
        size = len(line)
        while True:  # skip the rest of the over-long line without keeping it
            more = self._stream.readline(_CHUNK)
            size += len(more)
            if not more or more.endswith(b"\n"):
                return TooLong(size=size, limit=self._limit)


class FrameWriter:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.closed = False

    def write(self, frame: bytes) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self._stream.write(frame + b"\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.closed = True  # the peer is gone; the reader will see EOF
