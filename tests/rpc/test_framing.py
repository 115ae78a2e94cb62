"""NDJSON framing: line limits without unbounded buffering, lines split across reads, EOF edges,
and the writer's one-frame-per-line discipline."""

from __future__ import annotations

import io
import os
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.rpc.framing import FrameWriter, LineReader, TooLong


class Chunks:
    """A stream without a file descriptor that returns the given pieces one read at a time."""

    def __init__(self, pieces, on_read=None):
        self._pieces = iter(pieces)
        self._on_read = on_read

    def read1(self, n):
        if self._on_read:
            self._on_read()
        return next(self._pieces, b"")


def read_all(reader):
    out = []
    while (lines := reader.read_many()) is not None:
        out += lines
    return out


def test_an_over_long_line_is_skipped_without_being_held():
    limit, chunk, chunks = 4096, b"x" * (1 << 20), 40
    seen = []
    holder = {}
    stream = Chunks([chunk] * chunks + [b"\n{\"ok\":1}\n"], on_read=lambda: seen.append(len(holder["r"]._buf)))
    holder["r"] = reader = LineReader(stream, limit)
    lines = read_all(reader)
    assert lines == [TooLong(size=chunks * len(chunk), limit=limit), b'{"ok":1}']
    assert max(seen) <= limit  # 40 MiB went by; never more than the limit was kept


def test_limit_is_inclusive_and_eof_edges():
    assert read_all(LineReader(Chunks([b"a" * 8 + b"\n"]), 8)) == [b"a" * 8]
    assert read_all(LineReader(Chunks([b"a" * 9 + b"\n"]), 8)) == [TooLong(size=9, limit=8)]
    assert read_all(LineReader(Chunks([b"abc"]), 8)) == [b"abc"]  # last line without newline
    assert read_all(LineReader(Chunks([b"a" * 5, b"a" * 5]), 8)) == [TooLong(size=10, limit=8)]
    assert read_all(LineReader(Chunks([]), 8)) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20), st.data())
def test_lines_survive_any_split_into_reads(lines, data):
    limit = 24
    blob = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=10)))
    pieces = [blob[a:b] for a, b in zip([0, *cuts], [*cuts, len(blob)]) if b > a]
    got = read_all(LineReader(Chunks(pieces), limit))
    want = [line if len(line) <= limit else TooLong(size=len(line), limit=limit) for line in lines]
    assert got == want


def test_writer_emits_whole_lines_and_a_burst_in_one_write():
    class Counting(io.BytesIO):
        writes = 0

        def write(self, b):
            Counting.writes += 1
            return super().write(b)

    out = Counting()
    w = FrameWriter(out)
    w.write(b'{"a":1}')
    w.write_parts([b'{"b":2}', b"\n", b'{"c":3}', b"\n"])
    assert out.getvalue() == b'{"a":1}\n{"b":2}\n{"c":3}\n' and Counting.writes == 2
    assert b"\r" not in out.getvalue()


def test_writer_on_a_pipe_delivers_a_frame_bigger_than_the_pipe_buffer():
    r, wfd = os.pipe()
    got = []
    reader = threading.Thread(target=lambda: got.append(os.fdopen(r, "rb").read()), daemon=True)
    reader.start()
    frame = b'{"x":"' + b"y" * (3 << 20) + b'"}'
    with os.fdopen(wfd, "wb") as out:
        w = FrameWriter(out)
        w.write(frame)
        w.write_parts([b"{}", b"\n"])
    reader.join(10)
    assert got == [frame + b"\n{}\n"] and not w.closed


def test_writer_survives_a_vanished_peer():
    class Broken(io.BytesIO):
        def write(self, b):
            raise BrokenPipeError

    w = FrameWriter(Broken())
    w.write(b"{}")
    assert w.closed
    w.write(b"{}")  # no exception: the reader will see EOF and end the loop


def test_after_eof_the_reader_answers_none_without_reading_again():
    """EOF is final: later calls say None and leave the stream alone (a terminal or a growing file
    would otherwise be read, or block, again); a read of more than the buffer comes out whole."""
    reads = []
    stream = Chunks([b"a\n", b"", b"b\n", b"c"], on_read=lambda: reads.append(1))
    reader = LineReader(stream, 8)
    assert reader.read_many() == [b"a"] and reader.read_many() is None
    assert reader.read_many() is None and reader.lines(0) is None and len(reads) == 2
    big = b"".join(b"%07d\n" % i for i in range(30_000))  # 240,000 bytes in one read: beyond the 64 KiB buffer
    assert read_all(LineReader(Chunks([big]), 64)) == [b"%07d" % i for i in range(30_000)]
