"""The manifest: connections, numbered migrations, write transactions — for either database.

Schema v1 is the PRD's `manifest_v1.sql`; later versions are `sql/migrations/NNNN_name.sql`,
applied in order inside one write transaction each and recorded in `schema_migrations`.
PostgreSQL has its own set under `sql/postgresql/` with the same version numbers (a test checks
they match); every other difference between the two databases is in `bridge.store.dialect`.
A manifest created by the PRD's own `init` (v1 tables, no schema_migrations) is recognised as v1.
"""

from __future__ import annotations

from pathlib import Path

from bridge.store.dialect import BUSY_TIMEOUT_S, SqliteDialect, split_sql, storage_error

__all__ = ["BUSY_TIMEOUT_S", "connect", "manifest_sql", "migrate", "migrations", "schema_version", "split_sql",
           "storage_error", "write_txn"]

_SQLITE = SqliteDialect(Path("manifest.sqlite"))


def manifest_sql() -> str:
    """The shipped SQLite `manifest_v1.sql` text."""
    return _SQLITE.manifest_sql()


def migrations() -> list[tuple[int, str, str]]:
    """[(version, name, sql)] of the numbered SQLite migrations (version >= 2), in order."""
    return _SQLITE.migrations()


def connect(path: Path, *, timeout: float = BUSY_TIMEOUT_S):
    """A SQLite manifest connection (autocommit, WAL, busy timeout, Row factory).

    Raises:
        StorageError: the file cannot be opened or created (permissions, disk).
        IntegrityError: the file is not a SQLite database.
    """
    return SqliteDialect(path).connect(timeout=timeout)


def write_txn(con, *, timeout: float = BUSY_TIMEOUT_S):
    """The connection's write transaction (SQLite: BEGIN IMMEDIATE with retries; PostgreSQL:
    BEGIN … COMMIT).

    Raises:
        Busy: the manifest stayed locked for `timeout` seconds.
        StorageError: the disk refused the write (SQLite); rolled back.
    """
    return con.dialect.write_txn(con, timeout=timeout)


def schema_version(con) -> int:
    return con.dialect.schema_version(con)


def migrate(con) -> int:
    """Bring the manifest to the newest schema; safe to call from many processes at once.
    Returns the schema version."""
    return con.dialect.migrate(con)
