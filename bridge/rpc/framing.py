"""Newline-delimited framing: read lines with a size limit, write one frame per line.

Reading never buffers more than the limit: an over-long line is skipped in chunks up to its
newline and reported as `TooLong` so the caller can answer it; the stream stays in sync.
Writing is serialised by a lock, one write per frame (or per burst of frames, `write_parts`),
always `\\n`, straight to the file descriptor when there is one (no buffer copy, no flush); a
caller that knows no other thread can write meanwhile may skip the lock (`unlocked`, see there).
A write that fails (the peer closed its end) marks the writer closed and calls `on_broken` once,
on its own thread.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable
from typing import BinaryIO

import msgspec

__all__ = ["FrameWriter", "LineReader", "TooLong"]

# One read per burst: 64 KiB holds hundreds of pipelined small requests. Reads go into one
# buffer kept for the reader's life, and only the bytes read are copied out: a fresh 64 KiB
# object per read costs more than the read of a small request itself (measured: 1 MiB reads
# halved the sequential rate of small calls; 64 KiB ones still cost ~1 µs more than this).
_CHUNK = 1 << 16


class TooLong(msgspec.Struct, frozen=True, kw_only=True):
    size: int  # bytes seen before the newline (at least limit + 1)
    limit: int


class LineReader:
    """Lines from a binary stream, a chunk at a time: `read_many()` returns every complete line
    that one read brought (so a pipelined client's burst is handled, and answered, in one go)."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._buf = bytearray()
        self._skipping = 0  # > 0 while discarding the rest of an over-long line
        self.clean = True  # nothing held from an earlier read (no _buf, not _skipping)
        self._eof = False
        #: What the last `fill()` brought: its first `n` bytes (one buffer for the reader's life).
        self.buffer = bytearray(_CHUNK)
        self.view = memoryview(self.buffer)
        self._extra = b""  # what a stream without a descriptor returned beyond the buffer
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # not a file (a test's stream)
            fd = None
        #: One read into `buffer`; its byte count (0 at EOF): straight from the file descriptor (no
        #: Python frame), else the stream's.
        self.fill = functools.partial(os.readv, fd, (self.buffer,)) if fd is not None else self._read_stream

    def _read_stream(self) -> int:
        """A stream without a file descriptor: one read, copied into `buffer` (what does not fit
        waits for the next call); its length."""
        data = memoryview(self._extra or (self._stream.read1(_CHUNK) if hasattr(self._stream, "read1")
                                          else self._stream.read(_CHUNK)))
        data, self._extra = data[:_CHUNK], data[_CHUNK:]  # (views: a long read is not copied again per fill)
        self.view[:len(data)] = data
        return len(data)

    def read_many(self) -> list[bytes | TooLong] | None:
        """The lines (without newline) completed by the next read; None at EOF (and after it,
        without reading again)."""
        if self._eof:
            return None
        while (out := self.lines(self.fill())) == []:
            pass
        return out

    def lines(self, n: int) -> list[bytes | TooLong] | None:
        """The lines (without newline) that a `fill()` of `n` bytes completes: [] when none yet,
        None at EOF (n == 0, after what was left; and on every call after it)."""
        if self._eof:
            return None
        # (Server.serve's loop does this first case inline: keep the two alike)
        if n and self.clean and n <= self._limit and self.buffer[n - 1] == 10:
            # The usual read: one or more whole lines, none too long, nothing held from before.
            return bytes(self.view[:n - 1]).split(b"\n")
        out = self._feed_or_eof(bytes(self.view[:n]))
        self.clean = not self._buf and not self._skipping
        return out if out is not None or self._eof else []

    def _feed_or_eof(self, data: bytes) -> list[bytes | TooLong] | None:
        """The lines `data` completes (None: none yet, read again); at EOF (`data` empty) what is
        left (a last line without a newline, or an over-long one's report), else None with
        `_eof` set."""
        if not data:
            self._eof = True
            if self._buf and not self._skipping:
                line, self._buf = bytes(self._buf), bytearray()
                return [line]  # a last line without a newline
            if self._skipping:
                return [TooLong(size=self._skipping, limit=self._limit)]
            return None
        return self._feed(data) or None

    def _feed(self, data: bytes) -> list[bytes | TooLong]:
        out: list[bytes | TooLong] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                rest = len(data) - start
                if self._skipping:
                    self._skipping += rest
                elif len(self._buf) + rest > self._limit:
                    self._skipping = len(self._buf) + rest
                    self._buf = bytearray()
                else:
                    self._buf += data[start:]
                return out
            if self._skipping:
                out.append(TooLong(size=self._skipping + nl - start, limit=self._limit))
                self._skipping = 0
            elif self._buf:
                self._buf += data[start:nl]
                line, self._buf = bytes(self._buf), bytearray()
                out.append(line if len(line) <= self._limit else TooLong(size=len(line), limit=self._limit))
            else:
                piece = data[start:nl]
                out.append(piece if len(piece) <= self._limit else TooLong(size=len(piece), limit=self._limit))
            start = nl + 1


class FrameWriter:
    """Serialised frame output: `write` one frame, or `write_parts` a burst the caller gathered
    (each frame followed by its own `\\n` part) with one write."""

    def __init__(self, stream: BinaryIO, on_broken: Callable[[], None] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._on_broken = on_broken
        self._broken_once = threading.Lock()  # taken (never released) by the first lost()
        self.closed = False
        try:
            stream.flush()
            self._fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):  # not a file (a test's BytesIO): write + flush
            self._fd = None
        #: `unlocked(data)` -> bytes written: one write straight to the descriptor (None without
        #: one), without the lock, for a caller that knows no other thread writes meanwhile (the
        #: server's reader thread when no pool work is outstanding: the lock and the method call
        #: cost ~2.6 k instructions, a tenth of a small call). The caller must do what
        #: `write_parts` does with the outcome: `rest(data, written)` after a short write, `lost()`
        #: on OSError or ValueError, and nothing once `closed`.
        self.unlocked = functools.partial(os.write, self._fd) if self._fd is not None else None

    def write(self, frame: bytes) -> None:
        self.write_parts((frame, b"\n"))

    def write_parts(self, parts: Iterable[bytes | msgspec.Raw]) -> None:
        """Frames and their newlines, as parts, written with one write."""
        data = b"".join(parts)
        with self._lock:
            if self.closed:
                return
            try:
                if self._fd is None:
                    self._stream.write(data)
                    self._stream.flush()
                    return
                done = os.write(self._fd, data)
                if done < len(data):
                    self.rest(data, done)
            except (ValueError, OSError):
                self.lost()

    def rest(self, data: bytes, done: int) -> None:
        """The rest of `data` after a write took its first `done` bytes (a pipe takes a big frame in pieces)."""
        view = memoryview(data)
        while done < len(data):
            done += os.write(self._fd, view[done:])

    def lost(self) -> None:
        """The output is gone: nothing more is written, and `on_broken` runs (once, on its own
        thread, however many writers find the output gone, with or without the lock)."""
        self.closed = True  # the peer is gone: nothing more can be answered
        if self._on_broken is not None and self._broken_once.acquire(blocking=False):
            threading.Thread(target=self._on_broken, name="output-broken", daemon=True).start()
