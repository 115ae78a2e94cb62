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


def write_parquet(
    table,
    path: Path,
    metadata: dict[str, str],
    *,
    late_metadata: Callable[[], dict[str, str]] | None = None,
    between_row_groups: Callable[[], None] | None = None,
) -> str:
    """Write `table` with the fixed settings and our key-value metadata, fsync the file, and
    return the SHA-256 of its bytes, hashed as they are written (no second read of the file).

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
        sink = _HashingFile(fh)
        writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), table.schema, store_schema=False, **settings)
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
            raise
        writer.close()
        fh.flush()
        os.fsync(fh.fileno())
    return sink.sha256.hexdigest()


class _HashingFile:
    """A writable file that hashes what goes through it (hashlib releases the GIL on large
    buffers, so other threads keep running)."""

    closed = False

    def __init__(self, fh) -> None:
        self.fh = fh
        self.sha256 = hashlib.sha256()

    def write(self, data) -> int:
        self.sha256.update(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()

    def tell(self) -> int:
        return self.fh.tell()

    def close(self) -> None:
        self.closed = True  # the real file is closed by its owner


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
