"""Bytes on disk: the deterministic Parquet writer, file hashing, fsync'd atomic moves.

The Parquet settings are fixed here and nowhere else, so the same canonical table always gives
the same bytes (for one pyarrow version; ids never depend on bytes, see canonical.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["PARQUET_SETTINGS", "atomic_move", "fsync_dir", "fsync_file", "make_read_only", "place_if_absent", "sha256_file", "write_json", "write_parquet"]

PARQUET_SETTINGS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "row_group_size": 1 << 20,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
}


_THREADED_HASH_BYTES = 16 << 20  # from this in-memory size the file's bytes are hashed on a thread


def write_parquet(
    table,
    path: Path,
    metadata: dict[str, str],
    *,
    late_metadata: Callable[[], dict[str, str]] | None = None,
    between_row_groups: Callable[[], None] | None = None,
) -> str:
    """Write `table` with the fixed settings and our key-value metadata, fsync the file, and
    return the SHA-256 of its bytes, hashed as they are written (no second read of the file; for
    a table over `_THREADED_HASH_BYTES` in memory, on a thread of their own).

    The bytes are those of `pq.write_table(table with metadata as its schema metadata, ...)`
    (tested): the row groups are written one by one, and the footer's metadata (the Arrow schema
    with `metadata`, as pyarrow stores it) is added last. That lets a publish write the file while
    its content hash is still being computed on another thread: `late_metadata()` is called after
    the last row group and gives the keys known only then (the content hash, the id);
    `between_row_groups()` is called before each row group and may raise to abandon the write.
    On an exception the file is left partial (the caller removes its staging file).
    """
    import base64

    import pyarrow as pa
    import pyarrow.parquet as pq

    settings = {k: v for k, v in PARQUET_SETTINGS.items() if k != "row_group_size"}
    group = PARQUET_SETTINGS["row_group_size"]
    table = table.replace_schema_metadata(None)
    with open(path, "wb") as fh:
        sink = _HashingFile(fh, threaded=table.nbytes > _THREADED_HASH_BYTES)
        try:
            writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), table.schema, store_schema=False, **settings)
        except BaseException:
            sink.stop()
            raise
        try:
            for offset in range(0, max(table.num_rows, 1), group):  # an empty table: one empty group, as write_table
                if between_row_groups is not None:
                    between_row_groups()
                writer.write_table(table.slice(offset, group))
            meta = {**metadata, **(late_metadata() if late_metadata is not None else {})}
            kv = {k.encode("utf-8"): v.encode("utf-8") for k, v in sorted(meta.items())}
            # what pyarrow's writer stores itself (store_schema): the Arrow schema, IPC-serialised, base64
            arrow_schema = base64.b64encode(table.schema.with_metadata(kv).serialize().to_pybytes())
            writer.add_key_value_metadata({**kv, b"ARROW:schema": arrow_schema})
        except BaseException:
            try:
                writer.close()  # (footer to a file the caller removes; its own error must not hide this one)
            except Exception:  # noqa: BLE001
                pass
            finally:
                sink.stop()
            raise
        try:
            writer.close()
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            sink.stop()
    return sink.hexdigest()


class _HashingFile:
    """A writable file whose bytes are SHA-256'd on a thread of their own as they go through it,
    so the hashing (~0.2 s per 180 MB) is off the writer's thread. pyarrow hands `write` an
    immutable `bytes` copy, so the hasher reads it without another copy; at most `_QUEUED`
    buffers wait (hashing is several times faster than Parquet encoding, so the writer never
    waits in practice). `hexdigest()` waits for the hasher; `stop()` ends it on an error.
    Not `threaded`: hashed inline (a small file is not worth a thread)."""

    closed = False
    _QUEUED = 256

    def __init__(self, fh, threaded: bool) -> None:
        import queue
        import threading

        self.fh = fh
        self.sha256 = hashlib.sha256()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(self._QUEUED)
            self._thread = threading.Thread(target=self._hash, name="qb-file-hash", daemon=True)
            self._thread.start()

    def _hash(self) -> None:
        update, get = self.sha256.update, self._queue.get
        while (data := get()) is not None:
            update(data)  # releases the GIL for buffers over 2 KiB

    def write(self, data) -> int:
        n = self.fh.write(data)
        if self._queue is None:
            self.sha256.update(data)
        else:
            self._queue.put(data if isinstance(data, bytes) else bytes(data))
        return n

    def flush(self) -> None:
        self.fh.flush()

    def tell(self) -> int:
        return self.fh.tell()

    def close(self) -> None:
        self.closed = True  # the real file is closed by its owner

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.stop()
        return self.sha256.hexdigest()


def write_json(obj: Any, path: Path) -> None:
    data = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        buf = bytearray(bufsize)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def make_read_only(path: Path) -> None:
    """Published files are read-only on disk (r--r--r--): a stray write fails instead of
    silently changing registered bytes."""
    os.chmod(path, 0o444)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_move(src: Path, dst: Path) -> None:
    """Rename `src` over `dst` (same filesystem) and fsync the directory: all or nothing."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    fsync_dir(dst.parent)


def place_if_absent(src: Path, dst: Path) -> bool:
    """Hard-link `src` to `dst` only if `dst` does not exist (atomic); True if placed."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except FileExistsError:
        return False
    fsync_dir(dst.parent)
    return True
