"""The SQLite manifest: connections (WAL, busy timeout), numbered migrations, write transactions.

Schema v1 is the PRD's `manifest_v1.sql`; later versions are `sql/migrations/NNNN_name.sql`,
applied in order inside one IMMEDIATE transaction each and recorded in `schema_migrations`.
A manifest created by the PRD's own `init` (v1 tables, no schema_migrations) is recognised as v1.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from bridge.errors import Busy, IntegrityError, StorageError
from bridge.store.timeutil import now_iso

__all__ = ["BUSY_TIMEOUT_S", "connect", "manifest_sql", "migrate", "migrations", "schema_version", "write_txn"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0
MMAP_BYTES = 1 << 30
CACHE_KIB = 32 << 10
_BEGIN_SLICE_MS = 100
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def manifest_sql() -> str:
    """The shipped `manifest_v1.sql` text."""
    return resources.files("bridge.store").joinpath("sql/manifest_v1.sql").read_text(encoding="utf-8")


def migrations() -> list[tuple[int, str, str]]:
    """[(version, name, sql)] of the numbered migrations (version >= 2), in order."""
    folder = resources.files("bridge.store").joinpath("sql/migrations")
    out = []
    for entry in folder.iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    out.sort()
    return out


_DISK_ERRORS = ("disk i/o error", "database or disk is full", "unable to open database file", "readonly database",
                "disk full")


def storage_error(path: Path | str, exc: sqlite3.Error) -> StorageError | IntegrityError | None:
    """The domain error for SQLite refusing the manifest file (disk, permissions, not a database),
    or None for anything else."""
    text = str(exc).lower()
    if "file is not a database" in text or "database disk image is malformed" in text:
        return IntegrityError(f"the manifest {path} is damaged ({exc}); restore it from a backup (docs/operations.md)",
                              path=str(path), reason=str(exc))
    if any(m in text for m in _DISK_ERRORS):
        return StorageError(f"cannot write the manifest {path}: {exc}; free disk space or fix its permissions, "
                            "then retry (nothing was committed)", path=str(path), reason=str(exc), action="write")
    return None


def _db_path(con: sqlite3.Connection) -> str:
    try:
        return str(con.execute("PRAGMA database_list").fetchone()[2])
    except sqlite3.Error:  # pragma: no cover - the connection itself is broken
        return "the manifest"


def connect(path: Path, *, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, busy timeout, Row factory.

    Raises:
        StorageError: the file cannot be opened or created (permissions, disk).
        IntegrityError: the file is not a SQLite database.
    """
    try:
        return _connect(path, timeout)
    except sqlite3.DatabaseError as exc:
        err = storage_error(path, exc)
        if err is None:
            raise
        raise err from exc
    except OSError as exc:
        raise StorageError.from_os_error(exc, path.parent, "create the manifest folder") from exc


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    mode = _retry_locked(lambda: con.execute("PRAGMA journal_mode = WAL").fetchone()[0], timeout)
    if mode.lower() != "wal":  # pragma: no cover - e.g. a filesystem without shared memory
        log.warning("manifest %s is in %s mode, not WAL", path, mode)
    con.execute("PRAGMA synchronous = FULL")
    # Reads through a memory map and a bigger page cache: a point read of a large manifest whose
    # pages are not yet in SQLite's own cache costs ~0.02 ms instead of ~0.4 ms of read() calls.
    con.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    con.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    return con


def _retry_locked(fn, timeout: float):
    """Run `fn`, retrying while SQLite says locked: switching a new file to WAL can return
    SQLITE_BUSY without consulting the busy handler when several processes open it at once."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


@contextmanager
def write_txn(con: sqlite3.Connection, *, timeout: float = BUSY_TIMEOUT_S) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, retrying the BEGIN while another writer holds the lock.

    Raises:
        Busy: the manifest stayed locked for `timeout` seconds.
        StorageError: the disk refused the write (full, I/O error, read-only); rolled back.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    # SQLite's own busy wait blocks in C, where Ctrl-C cannot interrupt it: wait in short slices
    # and let Python's loop (and its signal checks) do the rest.
    saved = con.execute("PRAGMA busy_timeout").fetchone()[0]
    con.execute(f"PRAGMA busy_timeout = {_BEGIN_SLICE_MS}")
    try:
        while True:
            try:
                con.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    _raise_storage(con, exc)
                    raise
                if time.monotonic() > deadline:
                    raise Busy(f"the manifest stayed locked for {timeout:.0f}s; another process is writing — retry") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
    finally:
        con.execute(f"PRAGMA busy_timeout = {int(saved)}")
    try:
        yield con
    except BaseException as exc:
        _rollback(con)
        if isinstance(exc, sqlite3.DatabaseError):
            _raise_storage(con, exc)
        raise
    else:
        try:
            con.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            _rollback(con)
            _raise_storage(con, exc)
            raise


def _rollback(con: sqlite3.Connection) -> None:
    try:
        con.execute("ROLLBACK")
    except sqlite3.Error:  # no transaction left (SQLite already rolled back after an I/O error)
        pass


def _raise_storage(con: sqlite3.Connection, exc: sqlite3.Error) -> None:
    err = storage_error(_db_path(con), exc)
    if err is not None:
        raise err from exc


def _split_sql(script: str) -> list[str]:
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip() and not all(l.strip().startswith("--") or not l.strip() for l in buf.splitlines()):
        statements.append(buf.strip())
    return statements


def schema_version(con: sqlite3.Connection) -> int:
    has = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'").fetchone()
    if has:
        row = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        if row[0] is not None:
            return int(row[0])
    has_v1 = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='artifacts'").fetchone()
    return 1 if has_v1 else 0


def migrate(con: sqlite3.Connection) -> int:
    """Bring the manifest to the newest schema; safe to call from many processes at once.
    Returns the schema version."""
    pending = migrations()
    latest = pending[-1][0] if pending else 1
    if schema_version(con) >= latest:
        return schema_version(con)
    with write_txn(con):
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        current = schema_version(con)
        if current == 0:
            for stmt in _split_sql(manifest_sql()):
                con.execute(stmt)
            current = 1
        if not con.execute("SELECT 1 FROM schema_migrations WHERE version = 1").fetchone():
            con.execute("INSERT INTO schema_migrations VALUES (1, 'manifest_v1', ?)", (now_iso(),))
        for version, name, sql in pending:
            if version <= current:
                continue
            log.info("applying manifest migration %04d_%s", version, name)
            for stmt in _split_sql(sql):
                con.execute(stmt)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, now_iso()))
            current = version
    return current
