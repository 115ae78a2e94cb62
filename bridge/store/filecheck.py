"""verify's per-artifact file work: re-hash the Parquet file (sha256 against the manifest's
file_hash, PAR1 magic at both ends) and check the sidecar JSON against the manifest.

It imports only the standard library and msgspec, so that `verify` can run it in worker
processes as well as in its own: on small files the work is mostly Python per file, which
threads cannot spread over the cores (they take turns on the GIL), and processes can. A worker
is this file run as a script (`python -I -S filecheck.py MSGSPEC_DIR`, so no package is imported
and it starts in a few ms), in the lake's folder: it answers each request frame on stdin (a
batch of tasks) with a frame on stdout of what `check_many` says of them (`_serve`).

A task is the manifest's `path_parquet, path_sidecar, file_hash, artifact_id, content_hash,
row_count, logical_key` (`check`'s arguments). A finding is `(kind, on_sidecar, detail)`; in a
batch's answer, `(index, kind, on_sidecar, detail)`, `index` the task's position in its batch."""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

if __name__ == "__main__":  # a worker, started without site (-S): msgspec's folder is its argument
    sys.path.append(sys.argv[1])
    sys.modules["typing_extensions"] = None  # msgspec does without it: 30 of the ~75 ms of CPU a start costs

import msgspec  # noqa: E402

PARQUET_GONE = "the Parquet file is gone; restore it or tombstone the artifact"
SIDECAR_GONE = "the sidecar JSON is gone"
_READ = 1 << 20
# O_NONBLOCK: a FIFO where a file should be does not hang the open (regular files ignore it)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)

_REGULAR_READABLE = stat.S_IFREG | stat.S_IRUSR  # both files' modes ANDed: both regular, both readable
Finding = tuple[str, bool, str]


class _Sidecar(msgspec.Struct):
    """The sidecar's fields that must agree with the manifest (any JSON type: a wrong one is a
    disagreement, not a decoding error)."""

    artifact_id: Any = None
    content_hash: Any = None
    file_hash: Any = None
    row_count: Any = None
    logical_key: Any = None


_decode_sidecar = msgspec.json.Decoder(_Sidecar).decode


def stat_findings(size: int | None, mode: int | None, sidecar_mode: int | None) -> list[Finding]:
    """What the files' size and modes alone say (None: not known, or a bucket, which has no modes)."""
    out = []
    if size is not None and size < 12:
        out.append(("truncated", False, f"not a whole Parquet file ({size} bytes)"))
    if mode is not None and not mode & stat.S_IRUSR:
        out.append(("unreadable", False, f"mode {stat.filemode(mode)}: the owner cannot read it"))
    if sidecar_mode is not None and not sidecar_mode & stat.S_IRUSR:
        out.append(("unreadable", True, f"mode {stat.filemode(sidecar_mode)}: the owner cannot read it"))
    return out


def listing_findings(size: int | None, mode: int | None, sidecar_mode: int | None, *, parquet_gone: bool,
                     sidecar_gone: bool) -> list[Finding]:
    """What a listing says of an artifact's two files: gone, or their size and modes (`stat_findings`)."""
    if parquet_gone:
        return [("missing_file", False, PARQUET_GONE)]
    found = stat_findings(size, mode, sidecar_mode)
    if sidecar_gone:
        found.append(("missing_sidecar", True, SIDECAR_GONE))
    return found


def check(parquet: str, sidecar: str, file_hash: str, artifact_id: str, content_hash: str, row_count: int,
          logical_key: str, chunks: Callable[[str], Iterator[bytes]] | None = None,
          dir_fd: int | None = None) -> tuple[bool, list[Finding]]:
    """(whether the Parquet file was read through, [(kind, on_sidecar, detail)]) for one artifact;
    no findings when both files are as the manifest says. `chunks(path)` yields a file's bytes (a
    bucket's stream); None: local files (relative paths from `dir_fd`'s folder, else from the
    working directory), whose size, type and modes are first checked as a listing would
    (`stat_findings`, `_as_listed`)."""
    if chunks is not None:
        return _streamed(parquet, sidecar, (artifact_id, content_hash, file_hash, row_count, logical_key), chunks)
    try:
        fd = os.open(parquet, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        return False, _as_listed(parquet, sidecar, dir_fd=dir_fd) or [
            ("unreadable", False, f"cannot open the Parquet file: {exc}")]
    try:
        st = os.fstat(fd)
        try:
            sfd = os.open(sidecar, _OPEN_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            return False, _as_listed(parquet, sidecar, st, dir_fd=dir_fd) or [
                ("unreadable", True, f"cannot open the sidecar: {exc}")]
        try:
            sst = os.fstat(sfd)
            size = st.st_size
            if size < 12 or st.st_mode & sst.st_mode & _REGULAR_READABLE != _REGULAR_READABLE:  # (usually not)
                return False, _as_listed(parquet, sidecar, st, sst)
            try:
                want = min(size + 1, _READ)  # a small file in one read of its size
                digest, head, tail, total = _digest(_reads(fd, os.read(fd, want), want, size))
            except OSError as exc:
                return False, [("unreadable", False, f"cannot read the Parquet file: {exc}")]
            try:
                side: bytes | OSError = os.read(sfd, sst.st_size + 1)  # one read to its end (short: it ended)
                if len(side) > sst.st_size:  # it grew since the fstat: read on
                    while more := os.read(sfd, _READ):
                        side += more
            except OSError as exc:
                side = exc
        finally:
            os.close(sfd)
    finally:
        os.close(fd)
    return True, _compare(head, tail, total, digest, side, (artifact_id, content_hash, file_hash, row_count, logical_key))


def _digest(chunks: Iterable[bytes]) -> tuple[str, bytes, bytes, int]:
    """(sha256, first 4 bytes, last 4, length) of a file's bytes, chunk by chunk, in one pass."""
    h = hashlib.sha256()
    head = tail = b""
    total = 0
    for chunk in chunks:
        if len(head) < 4:
            head = (head + chunk)[:4]
        tail, total = (tail + chunk[-4:])[-4:], total + len(chunk)
        h.update(chunk)
    return h.hexdigest(), head, tail, total


def _reads(fd: int, data: bytes, want: int, size: int) -> Iterator[bytes]:
    """`data`, a file's first read (of `want` bytes asked), then its reads on to its end (a short
    read before it, as on a network mount, reads on)."""
    total = len(data)
    yield data
    while data and (len(data) == want or total < size):
        want = _READ
        data = os.read(fd, want)
        total += len(data)
        yield data


def _streamed(parquet: str, sidecar: str, expected: tuple, chunks) -> tuple[bool, list[Finding]]:
    try:
        digest, head, tail, total = _digest(chunks(parquet))  # one pass: hash, and the PAR1 magic at both ends
    except FileNotFoundError:
        return False, [("missing_file", False, PARQUET_GONE)]
    except OSError as exc:
        return False, [("unreadable", False, f"cannot read the Parquet file: {exc}")]
    try:
        side: bytes | OSError = b"".join(chunks(sidecar))
    except OSError as exc:
        side = exc
    return True, _compare(head, tail, total, digest, side, expected)


def _as_listed(parquet: str, sidecar: str, st: os.stat_result | None = None, sst: os.stat_result | None = None,
               dir_fd: int | None = None) -> list[Finding]:
    """`listing_findings` from os.stat, for the uncommon cases: a file that cannot be opened, or
    is short, unreadable by its owner, or not a regular file (a listing counts only those)."""
    try:
        st = os.stat(parquet, dir_fd=dir_fd) if st is None else st
    except PermissionError:
        return []
    except OSError:  # not there, a symlink in a loop: no file, as a listing says
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        return listing_findings(None, None, None, parquet_gone=True, sidecar_gone=False)
    try:
        sst = os.stat(sidecar, dir_fd=dir_fd) if sst is None else sst
    except PermissionError:
        return stat_findings(st.st_size, st.st_mode, None)
    except OSError:
        sst = None
    sidecar_gone = sst is None or not stat.S_ISREG(sst.st_mode)
    return listing_findings(st.st_size, st.st_mode, None if sidecar_gone else sst.st_mode, parquet_gone=False,
                            sidecar_gone=sidecar_gone)


def _compare(head: bytes, tail: bytes, size: int, digest: str, side: bytes | OSError, expected: tuple) -> list[Finding]:
    """The findings once both files are read: PAR1 at both ends, the bytes' hash, the sidecar."""
    if size < 12:
        return stat_findings(size, None, None)
    if head != b"PAR1" or tail != b"PAR1":
        return [("truncated", False, "not a whole Parquet file (no PAR1 header and footer)")]
    out = []
    if digest != expected[2]:
        out.append(("file_hash_mismatch", False, f"bytes changed: sha256 {digest} != {expected[2]}"))
    if isinstance(side, FileNotFoundError):
        return [*out, ("missing_sidecar", True, SIDECAR_GONE)]
    try:
        if isinstance(side, OSError):
            raise side
        meta = _decode_sidecar(side)
    except (OSError, ValueError) as exc:  # msgspec's DecodeError and ValidationError are ValueErrors
        return [*out, ("corrupt_sidecar", True, f"unreadable sidecar: {exc}")]
    got = (meta.artifact_id, meta.content_hash, meta.file_hash, meta.row_count, meta.logical_key)
    bad = [name for name, g, e in zip(_Sidecar.__struct_fields__, got, expected) if g != e or g.__class__ is not e.__class__]
    if bad:  # (by type too: JSON's true or 3.0 is no row count of 1 or 3, though Python's == says so)
        out.append(("sidecar_mismatch", True, f"sidecar disagrees with the manifest on {', '.join(bad)}"))
    return out


def _intact(task: tuple, dir_fd: int | None) -> bool:
    """True when a local artifact's two files are exactly as the manifest says, by the shortest
    route: what `check` finds no fault in, for a Parquet file of less than `_READ` bytes (read in
    one go) and a sidecar that did not grow since its fstat. False for anything else, and then
    `check` says what it is (so this is only ever the faster way to `check`'s (True, []))."""
    parquet, sidecar, file_hash, artifact_id, content_hash, row_count, logical_key = task
    try:
        fd = os.open(parquet, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        size = st.st_size
        if not 12 <= size < _READ or st.st_mode & _REGULAR_READABLE != _REGULAR_READABLE:
            return False
        data = os.read(fd, size + 1)
        sfd = os.open(sidecar, _OPEN_FLAGS, dir_fd=dir_fd)
        try:
            sst = os.fstat(sfd)
            if sst.st_mode & _REGULAR_READABLE != _REGULAR_READABLE:
                return False
            side = os.read(sfd, sst.st_size + 1)
        finally:
            os.close(sfd)
    except OSError:
        return False
    finally:
        os.close(fd)
    if (len(data) != size or len(side) > sst.st_size or data[:4] != b"PAR1" or data[-4:] != b"PAR1"
            or hashlib.sha256(data).hexdigest() != file_hash):
        return False
    try:
        meta = _decode_sidecar(side)
    except ValueError:
        return False
    return (meta.artifact_id == artifact_id and meta.content_hash == content_hash and meta.file_hash == file_hash
            and meta.row_count == row_count and meta.row_count.__class__ is int and meta.logical_key == logical_key)


def check_many(tasks: Iterable[tuple], *, start: int = 0, chunks: Callable[[str], Iterator[bytes]] | None = None,
               dir_fd: int | None = None, stop: Callable[[], bool] | None = None) -> tuple[list[int], list[tuple]]:
    """`check` of each task: (the indices, counted from `start`, of the tasks whose Parquet file
    was not read through, [(index, kind, on_sidecar, detail)]). `stop()` true (asked before the
    first task and every 64th after it): the rest is left. A local artifact is first checked by
    `_intact`; `check` only when that finds something (a check of a clean artifact costs about a
    sixth less so)."""
    unread, found = [], []
    local = chunks is None
    for i, task in enumerate(tasks, start):
        if stop is not None and not (i - start) & 63 and stop():
            break
        if local and _intact(task, dir_fd):
            continue
        read, findings = check(*task, chunks, dir_fd)
        if not read:
            unread.append(i)
        for f in findings:
            found.append((i, *f))
    return unread, found


def _serve(stdin, stdout) -> None:
    """A worker: for each request frame (4-byte length, `marshal` list of task tuples: this
    interpreter's own format, which it loads in well under half msgpack's time) until stdin ends, a
    reply frame (4-byte length, marshal `check_many`'s answer)."""
    decode, encode = marshal.loads, marshal.dumps
    while len(head := stdin.read(4)) == 4:
        frame = encode(check_many(decode(stdin.read(int.from_bytes(head, "little")))))
        stdout.write(len(frame).to_bytes(4, "little") + frame)
        stdout.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
