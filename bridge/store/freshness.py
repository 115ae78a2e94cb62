"""Has the manifest changed? A cheap, exact answer for the store's read cache.

A SQLite manifest in WAL mode keeps a *wal-index* in shared memory (the `-shm` file beside it).
Its first 96 bytes are two copies of the wal-index header, which every commit rewrites: the
header holds a change counter (`iChange`) that each write of the header increments, the WAL's
last valid frame (`mxFrame`) and a checksum over the header (https://www.sqlite.org/walformat.html,
"The WAL-Index Header"). SQLite's readers compare this header with their private copy to learn
that another connection committed; `PRAGMA data_version` does the same inside a read
transaction. Reading those bytes through a memory map of the `-shm` file answers the same
question in about 0.2 µs instead of the pragma's 3-4 µs, so the cache can ask on every read.

Exact: a commit writes the header before it returns, so a read that starts after another
process's commit returned sees different bytes (a commit that is still running is not visible to
any reader yet). Bytes that differ for another reason (a checkpoint restarting the WAL, a
recovery) only empty the cache once more. The `-shm` file is not replaced while a connection to
the manifest is open (SQLite removes it only when the last connection closes, and a connection in
WAL mode holds a shared lock on the database all its life): the probe belongs to one connection
(`probe.con`), and the store makes a new one when it closes that connection. The map is never
closed, nor the descriptor it was made from (see `_MAPS`: closing it would drop SQLite's locks).

Anything else (not WAL, no `-shm` file, PostgreSQL): the dialect's own change token, asked on
every call (PostgreSQL: the `manifest_writes` sequence; SQLite: `PRAGMA data_version`).
"""

from __future__ import annotations

import functools
import mmap
import os
import sqlite3
import threading
from typing import Any

__all__ = ["ChangeProbe"]

WAL_INDEX_HEADER_BYTES = 96  # two copies of the 48-byte header
_HEADER = slice(0, WAL_INDEX_HEADER_BYTES)


class ChangeProbe:
    """A change probe bound to one manifest connection: `read()` returns a token that differs
    whenever the manifest may have changed since the token was last read."""

    __slots__ = ("read", "shared_memory")

    def __init__(self, dialect: Any, con: Any) -> None:
        shm = _wal_index(dialect, con)
        #: True when the token is read from SQLite's wal-index (no query per call).
        self.shared_memory = shm is not None
        # a C-level call either way: a slice of the map, or the dialect's query
        self.read = functools.partial(shm.__getitem__, _HEADER) if shm is not None else functools.partial(
            dialect.change_token, con)


def _wal_index(dialect: Any, con: Any) -> mmap.mmap | None:
    """A read-only map of the wal-index header of `con`'s SQLite manifest, or None (not SQLite,
    not in WAL mode, no shared-memory file, or it cannot be mapped)."""
    if getattr(dialect, "name", None) != "sqlite":
        return None
    path = f"{dialect.path}-shm"
    try:
        if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            return None
        con.execute("PRAGMA data_version").fetchone()  # a read transaction: the wal-index exists from here on
        st = os.stat(path)  # the file `con` uses: not replaced while `con` is open
    except (OSError, sqlite3.Error):
        return None
    ident = (st.st_dev, st.st_ino)
    with _MAPS_LOCK:
        mapped = _MAPS.get(path)
        if mapped is not None and mapped[0] == ident:
            return mapped[1]
        fd = -1
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            fst = os.fstat(fd)
            if (fst.st_dev, fst.st_ino) != ident or fst.st_size < WAL_INDEX_HEADER_BYTES:
                raise OSError("the wal-index changed while it was being opened")
            shm = mmap.mmap(fd, WAL_INDEX_HEADER_BYTES, mmap.MAP_SHARED, mmap.PROT_READ)
        except (OSError, ValueError):
            # A descriptor that was opened must still not be closed (see _MAPS): kept with the
            # maps, unused.
            if fd >= 0:
                _UNUSED_FDS.append(fd)
            return None
        _MAPS[path] = (ident, shm, fd)
        return shm


# Maps of wal-index headers, by `-shm` path, kept (with the descriptor each was made from) for the
# process's life and never closed: closing *any* descriptor of a file releases every POSIX
# advisory lock the process holds on that file, and SQLite's WAL locks (readers' marks, the
# writer's lock, the "dead man switch" that tells others the wal-index is in use) are such locks
# on the `-shm` file. (Closing one here made other connections of the process lose theirs:
# "locking protocol" errors.) A map also holds a duplicate descriptor of its own, released only
# if the map were closed or collected, which this table prevents. One map per file: a `-shm` file
# that SQLite deleted and made again (every connection to the manifest closed meanwhile) gets a
# new map; the old one stays, unused.
_MAPS: dict[str, tuple[tuple[int, int], mmap.mmap, int]] = {}
_UNUSED_FDS: list[int] = []
_MAPS_LOCK = threading.Lock()
