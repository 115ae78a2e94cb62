"""Bytes on disk: the deterministic Parquet writer, file hashing, fsync'd atomic moves.

The Parquet settings are fixed here and nowhere else, so the same canonical table always gives
the same bytes (for one pyarrow version; ids never depend on bytes, see canonical.py).
"""

from __future__ import annotations

import hashlib
import json
import os
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


def write_parquet(table, path: Path, metadata: dict[str, str]) -> None:
    """Write `table` with the fixed settings and our key-value metadata, then fsync the file."""
    import pyarrow.parquet as pq

    meta = {k.encode("utf-8"): v.encode("utf-8") for k, v in sorted(metadata.items())}
    pq.write_table(table.replace_schema_metadata(meta), str(path), **PARQUET_SETTINGS)
    fsync_file(path)


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
